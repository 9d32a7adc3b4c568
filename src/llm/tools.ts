import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import type { TransferDestination } from './config.js';

/** The tool names the model is offered. */
export const HANG_UP = 'hang_up';
export const TRANSFER = 'transfer';

/** The function tools offered to the model: `hang_up` always, `transfer` only with destinations. */
export function toolDefinitions(destinations: readonly TransferDestination[]): ChatCompletionFunctionTool[] {
  const tools: ChatCompletionFunctionTool[] = [
    {
      type: 'function',
      function: {
        name: HANG_UP,
        description: 'End the phone call after your current reply has been played. Say goodbye first.',
        parameters: {
          type: 'object',
          properties: { reason: { type: 'string', description: 'Why the call ends, in a few words.' } },
          required: [],
        },
      },
    },
  ];
  if (destinations.length > 0) {
    tools.push({
      type: 'function',
      function: {
        name: TRANSFER,
        description: 'Transfer the caller to a person or department. Only the listed destinations exist.',
        parameters: {
          type: 'object',
          properties: {
            destination: { type: 'string', enum: destinations.map((d) => d.name), description: 'Where to transfer the caller.' },
          },
          required: ['destination'],
        },
      },
    });
  }
  return tools;
}

/** The allowed destination a model's choice names (by name or extension, any case), if any. */
export function findDestination(
  destinations: readonly TransferDestination[],
  wanted: string,
): TransferDestination | undefined {
  const key = wanted.trim().toLowerCase();
  if (key === '') return undefined;
  return destinations.find((d) => d.name.toLowerCase() === key || d.extension.toLowerCase() === key);
}

/** Tool-call arguments as an object; malformed JSON from the model yields `{}`. */
export function parseArguments(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text === '' ? '{}' : text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
