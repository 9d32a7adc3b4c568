import type { LlmConfig } from '../llm/config.js';
import { Conversation } from '../llm/conversation.js';
import type { CallControl, ChatMessage, Llm } from '../llm/llm.js';
import { streamReply } from '../llm/reply.js';
import type { Logger } from '../logger.js';
import type { Observer } from '../metrics/observer.js';
import type { ToolPolicy, ToolRunner, ToolUse } from '../llm/business-tools.js';
import type { ReplyPhrases } from '../llm/reply.js';

/** The model side of one call: replies to an utterance, and records what was actually heard. */
export interface Dialogue {
  /** Streams the reply to `userText` as text deltas; nothing is recorded yet. */
  reply(userText: string, signal: AbortSignal): AsyncIterable<string>;
  /** Records one exchange: the caller's words (if any) and the part of the reply they heard. */
  record(userText: string | undefined, heard: string): void;
  /** Every business tool call so far: name, duration, outcome. */
  toolUses(): readonly ToolUse[];
}

/** An agent's business tools and their limits, for one call. */
export interface DialogueTools {
  runner: ToolRunner;
  maxRounds: number;
  fillerDelayMs: number;
  maxCallsPerCall: number;
}

/**
 * The model side of one call over a `Conversation`. Each reply runs on a copy of the history
 * with the caller's words appended, so a speculative reply that is discarded leaves no trace;
 * `record` then commits the caller's words, the reply's tool exchanges and what was heard.
 */
export function createDialogue(deps: {
  llm: Llm;
  config: LlmConfig;
  control: CallControl;
  log: Logger;
  observer: Observer;
  phrases: ReplyPhrases;
  tools?: DialogueTools | undefined;
}): Dialogue {
  const conversation = Conversation.fromConfig(deps.config);
  const uses: ToolUse[] = [];
  const budget = { left: deps.tools?.maxCallsPerCall ?? 0 };
  const tools: ToolPolicy | undefined = deps.tools && {
    tools: deps.tools.runner,
    maxRounds: deps.tools.maxRounds,
    fillerDelayMs: deps.tools.fillerDelayMs,
    budget,
    used: (use) => uses.push(use),
  };
  // Tool calls and results each reply added, keyed by the words it answered, until recorded.
  const toolMessages = new Map<string, ChatMessage[]>();

  return {
    async *reply(userText, signal) {
      const draft = copyOf(conversation, deps.config);
      draft.addUser(userText);
      const before = draft.messages().length;
      try {
        const { tools: _declared, ...rest } = deps;
        for await (const event of streamReply({ ...rest, conversation: draft, signal, ...(tools ? { tools } : {}) })) yield event.text;
      } finally {
        toolMessages.set(userText, draft.messages().slice(before));
      }
    },
    record(userText, heard) {
      if (userText !== undefined) {
        conversation.addUser(userText);
        replay(conversation, toolMessages.get(userText) ?? []);
        toolMessages.delete(userText);
      }
      conversation.addAssistant(heard);
    },
    toolUses: () => uses,
  };
}

function copyOf(conversation: Conversation, config: LlmConfig): Conversation {
  const copy = Conversation.fromConfig(config);
  replay(copy, conversation.messages().slice(1));
  return copy;
}

function replay(target: Conversation, messages: readonly ChatMessage[]): void {
  for (const message of messages) {
    switch (message.role) {
      case 'user':
        target.addUser(message.content);
        break;
      case 'assistant':
        if (message.tool_calls?.length) target.addToolCalls(message.tool_calls, message.content);
        else target.addAssistant(message.content ?? '');
        break;
      case 'tool':
        target.addToolResult(message.tool_call_id, message.content);
        break;
      case 'system':
        break;
    }
  }
}
