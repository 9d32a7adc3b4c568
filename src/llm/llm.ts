import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';

/** One message of a conversation, in the Chat Completions shape. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** What the model streams back: text to speak, or a completed tool call. */
export type LlmEvent = { type: 'text'; text: string } | { type: 'tool_call'; call: ToolCall };

/** A streamed chat model. The signal cancels the request on the wire. */
export interface Llm {
  /** `tools`: business tools offered besides the built-in hang-up and transfer. */
  reply(history: readonly ChatMessage[], signal: AbortSignal, tools?: readonly ChatCompletionFunctionTool[]): AsyncIterable<LlmEvent>;
  /** Opens the connection to the endpoint now and keeps it open while idle. */
  keepWarm?(): void;
}

/** The call-control operations the model may invoke as tools; the conversation implements them. */
export interface CallControl {
  /** Ends the call after the current reply has been played. */
  hangUp(reason: string): Promise<void>;
  /** Transfers the caller; resolves with whether it was done and a sentence for the model. */
  transfer(destination: string): Promise<{ ok: boolean; message: string }>;
}
