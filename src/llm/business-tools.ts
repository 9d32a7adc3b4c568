/** The business tools of a reply: offered to the model, run in parallel, with a filler line when slow. */
import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import type { ToolCall } from './llm.js';

/** What a tool call gave: text for the model, and how it went (for the call record). */
export interface ToolAnswer {
  ok: boolean;
  content: string;
  durationMs: number;
  outcome: string;
}

/** An agent's tools as a reply uses them (a `Toolbox` from src/tools is one). */
export interface ToolRunner {
  /** The tools to offer this round. */
  definitions(): Promise<ChatCompletionFunctionTool[]>;
  /** Runs one call; every failure is an answer for the model, never a throw. The signal aborts the request. */
  run(name: string, argsJson: string, signal: AbortSignal): Promise<ToolAnswer>;
}

/** One tool call of a call, for its record: never its arguments or its answer. */
export interface ToolUse {
  name: string;
  durationMs: number;
  outcome: string;
}

/** How a reply may use tools, and what the call allows in all. */
export interface ToolPolicy {
  tools: ToolRunner;
  /** Model requests in one turn: the first, plus one per round of tool results. */
  maxRounds: number;
  /** A round still running after this long gets the filler line, once, ms. */
  fillerDelayMs: number;
  /** Tool calls this call may still make; shared by the call's turns. */
  budget: { left: number };
  /** Told of every tool call when it has answered. */
  used(use: ToolUse): void;
}

const OVER_BUDGET: ToolAnswer = {
  ok: false,
  content: 'Not done: this call has used all the tool calls it may make. Answer from what you know, or offer a transfer.',
  durationMs: 0,
  outcome: 'limit',
};

/**
 * Runs a round of business tool calls at once. If they have not all answered within the filler
 * delay, yields the filler line first (the caller hears it while waiting), then the answers in the
 * order of the calls.
 */
export async function* runToolRound(
  calls: readonly ToolCall[],
  policy: ToolPolicy,
  filler: string,
  signal: AbortSignal,
): AsyncGenerator<{ type: 'filler'; text: string }, ToolAnswer[]> {
  const running = Promise.all(
    calls.map((call) => {
      if (policy.budget.left <= 0) return Promise.resolve(OVER_BUDGET);
      policy.budget.left--;
      return policy.tools.run(call.function.name, call.function.arguments, signal);
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => (timer = setTimeout(() => resolve('slow'), policy.fillerDelayMs)));
  const first = await Promise.race([running.then(() => 'answered' as const), slow]);
  clearTimeout(timer);
  if (first === 'slow' && !signal.aborted) yield { type: 'filler', text: filler };
  const answers = await running;
  answers.forEach((answer, i) => policy.used({ name: calls[i]!.function.name, durationMs: Math.round(answer.durationMs), outcome: answer.outcome }));
  return answers;
}
