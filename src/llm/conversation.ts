import type { LlmConfig } from './config.js';
import type { ChatMessage, ToolCall } from './llm.js';

/** Bounds of a conversation's history. */
export interface ConversationOptions {
  systemPrompt: string;
  /** Caller turns kept; older whole exchanges are dropped. */
  maxTurns: number;
  /** Characters of history kept (system prompt excluded); the latest exchange is always kept. */
  maxChars: number;
}

/**
 * The history of one call as the model sees it: the system prompt, then exchanges, each starting
 * with a caller message. Trimming drops the oldest whole exchanges, so a tool result never loses
 * the assistant message that asked for it. Only what the caller actually heard is recorded as
 * the bot's words (`addAssistant`); a reply nobody heard adds nothing, and the caller's next words
 * are then joined to their previous message so roles keep alternating.
 */
export class Conversation {
  readonly #options: ConversationOptions;
  readonly #system: ChatMessage;
  #history: ChatMessage[] = [];
  #chars = 0;

  constructor(options: ConversationOptions) {
    this.#options = options;
    this.#system = { role: 'system', content: options.systemPrompt };
  }

  /** A conversation with the prompt and bounds from the LLM settings. */
  static fromConfig(config: LlmConfig): Conversation {
    return new Conversation({
      systemPrompt: config.systemPrompt,
      maxTurns: config.historyMaxTurns,
      maxChars: config.historyMaxChars,
    });
  }

  /** Records what the caller said. */
  addUser(text: string): void {
    const content = text.trim();
    if (content === '') return;
    const last = this.#history.at(-1);
    if (last?.role === 'user') {
      this.#replace(this.#history.length - 1, { role: 'user', content: `${last.content} ${content}` });
    } else {
      this.#push({ role: 'user', content });
    }
    this.#trim();
  }

  /** Records the part of the bot's reply the caller actually heard; empty text adds nothing. */
  addAssistant(heardText: string): void {
    const content = heardText.trim();
    if (content === '') return;
    this.#push({ role: 'assistant', content });
    this.#trim();
  }

  /** Records the model's request to call tools (with any text it streamed alongside). */
  addToolCalls(calls: readonly ToolCall[], text: string | null = null): void {
    if (calls.length === 0) return;
    this.#push({ role: 'assistant', content: text, tool_calls: calls.map((c) => ({ ...c, function: { ...c.function } })) });
  }

  /** Records the result of one tool call, answered to the model as a tool message. */
  addToolResult(toolCallId: string, content: string): void {
    this.#push({ role: 'tool', tool_call_id: toolCallId, content });
    this.#trim();
  }

  /** The system prompt followed by the kept history, ready to send. */
  messages(): readonly ChatMessage[] {
    return [this.#system, ...this.#history];
  }

  /** Caller turns currently kept. */
  get turns(): number {
    return this.#history.filter((m) => m.role === 'user').length;
  }

  #push(message: ChatMessage): void {
    this.#history.push(message);
    this.#chars += size(message);
  }

  #replace(index: number, message: ChatMessage): void {
    this.#chars += size(message) - size(this.#history[index]!);
    this.#history[index] = message;
  }

  #trim(): void {
    const { maxTurns, maxChars } = this.#options;
    let turns = this.turns;
    while (turns > maxTurns || this.#chars > maxChars) {
      // The first exchange runs up to the second caller message; the latest one is never dropped.
      const next = this.#history.findIndex((m, i) => i > 0 && m.role === 'user');
      if (next < 0) break;
      for (const dropped of this.#history.splice(0, next)) {
        this.#chars -= size(dropped);
        if (dropped.role === 'user') turns--;
      }
    }
  }
}

function size(message: ChatMessage): number {
  let chars = message.content?.length ?? 0;
  if (message.role === 'assistant') {
    for (const call of message.tool_calls ?? []) chars += call.function.name.length + call.function.arguments.length;
  }
  return chars;
}
