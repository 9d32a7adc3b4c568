import { performance } from 'node:perf_hooks';
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import type { LlmConfig } from './config.js';
import type { Conversation } from './conversation.js';
import type { CallControl, Llm, ToolCall } from './llm.js';
import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import { runToolRound, type ToolPolicy } from './business-tools.js';
import { findDestination, HANG_UP, parseArguments, TRANSFER } from './tools.js';

/** The tools the call itself implements; any other name is a business tool. */
const BUILT_IN = new Set([HANG_UP, TRANSFER]);

/** What a reply yields: model text to speak as it streams, or a fixed phrase (cacheable audio). */
export type ReplyEvent = { type: 'text'; text: string } | { type: 'fallback'; text: string } | { type: 'filler'; text: string };

/** Everything one reply needs. */
export interface ReplyDeps {
  llm: Llm;
  conversation: Conversation;
  control: CallControl;
  signal: AbortSignal;
  log: Logger;
  config: LlmConfig;
  /** The lines spoken instead of the model's words. */
  phrases: ReplyPhrases;
  /** The agent's business tools, when it has any. */
  tools?: ToolPolicy;
  observer?: Observer;
}

/** The fixed phrases of the reply driver, in the bot's language. */
export interface ReplyPhrases {
  /** Spoken when the model fails before saying (almost) anything. */
  fallback: string;
  /** Spoken when the model hangs up without a word of goodbye. */
  goodbye: string;
  /** Spoken when the model transfers the caller without a word. */
  transferring: string;
  /** Spoken once per tool round that takes long. */
  filler: string;
}

/** A failed retry is only worth starting with at least this much of the first-token budget left. */
const MIN_RETRY_BUDGET_MS = 300;
/** A reply cut after fewer characters than this is followed by the fallback phrase. */
const FALLBACK_BELOW_CHARS = 12;
/** Model requests in one reply: the first, plus re-asks after tool results. */
const MAX_ROUNDS = 3;

type Attempt =
  | { kind: 'done'; text: string; calls: ToolCall[] }
  | { kind: 'failed'; error: VoicebotError; text: string }
  | { kind: 'aborted' };

/**
 * Runs one bot reply: streams the model's text, executes its tool calls through `control`
 * (re-asking the model after a refused or failed transfer), and turns faults into speech.
 *
 * The first token must arrive within LLM_FIRST_TOKEN_TIMEOUT_MS of the start, retries included;
 * a stream silent for LLM_IDLE_TIMEOUT_MS is dead. A retryable failure before any text is retried
 * once if enough budget is left; otherwise the fallback phrase is spoken. A failure after text
 * was yielded ends the reply without a retry (the caller must not hear words twice), followed by
 * the fallback only if fewer than a dozen characters were said. An abort ends it quietly.
 * The assistant's words are not recorded here: the caller records what was actually heard.
 */
export async function* streamReply(deps: ReplyDeps): AsyncGenerator<ReplyEvent> {
  const { conversation, signal, config } = deps;
  const observer = deps.observer ?? noopObserver;
  const log = deps.log.child({ component: 'reply' });
  const { phrases } = deps;
  let said = 0;

  const maxRounds = deps.tools?.maxRounds ?? MAX_ROUNDS;
  for (let round = 0; round < maxRounds; round++) {
    const deadline = performance.now() + config.firstTokenTimeoutMs;
    const offered = deps.tools ? await deps.tools.tools.definitions() : [];
    let attempt: Attempt;
    for (let tries = 1; ; tries++) {
      attempt = yield* runAttempt(deps, deadline, offered);
      if (attempt.kind !== 'failed') break;
      said += attempt.text.length;
      const left = deadline - performance.now();
      const retry = attempt.error.retryable && said === 0 && tries === 1 && left >= MIN_RETRY_BUDGET_MS;
      log.warn({ err: attempt.error, code: attempt.error.code, round, tries, said, retry, budgetLeftMs: Math.round(left) }, 'llm reply failed');
      if (!retry) break;
    }
    if (attempt.kind === 'aborted') return;
    if (attempt.kind === 'failed') {
      if (said < FALLBACK_BELOW_CHARS) yield* fallback(phrases.fallback, observer);
      return;
    }
    said += attempt.text.length;
    if (attempt.calls.length === 0) {
      if (said === 0) {
        log.warn({ round }, 'llm reply was empty');
        yield* fallback(phrases.fallback, observer);
      }
      return;
    }

    conversation.addToolCalls(attempt.calls);
    let ended: 'hung_up' | 'transferred' | undefined;
    let reask = false;
    // Business tools run at once, all of them; hang-up and transfer after, in order.
    const business = deps.tools ? attempt.calls.filter((call) => !BUILT_IN.has(call.function.name)) : [];
    if (business.length > 0) {
      const answers = yield* runToolRound(business, deps.tools!, phrases.filler, signal);
      business.forEach((call, i) => conversation.addToolResult(call.id, answers[i]!.content));
      reask = true;
    }
    for (const call of attempt.calls) {
      if (business.includes(call)) continue;
      // Every tool call gets its result, executed or not, so the history stays valid to send.
      if (signal.aborted) {
        conversation.addToolResult(call.id, 'Not done: the caller interrupted.');
        continue;
      }
      const result = await runTool(call, deps, log);
      conversation.addToolResult(call.id, result.content);
      if (result.outcome === 'reask') reask = true;
      else ended ??= result.outcome;
    }
    if (signal.aborted) return;
    if (ended !== undefined) {
      if (said === 0) yield { type: 'fallback', text: ended === 'hung_up' ? phrases.goodbye : phrases.transferring };
      return;
    }
    if (!reask) {
      if (said === 0) yield* fallback(phrases.fallback, observer);
      return;
    }
  }
  log.warn({ rounds: maxRounds }, 'llm kept calling tools');
  if (said === 0) yield* fallback(phrases.fallback, observer);
}

async function* fallback(text: string, observer: Observer): AsyncGenerator<ReplyEvent> {
  observer.fallback('llm');
  yield { type: 'fallback', text };
}

/** One model request with its own timers; yields its text and reports how it ended. */
async function* runAttempt(deps: ReplyDeps, deadline: number, offered: readonly ChatCompletionFunctionTool[]): AsyncGenerator<ReplyEvent, Attempt> {
  const { llm, conversation, signal, config } = deps;
  const timeout = new AbortController();
  const attemptSignal = AbortSignal.any([signal, timeout.signal]);
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number, what: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => timeout.abort(new VoicebotError('llm_timeout', what)), Math.max(0, ms));
  };
  let text = '';
  const calls: ToolCall[] = [];
  arm(deadline - performance.now(), 'no first token within the budget');
  try {
    for await (const event of llm.reply(conversation.messages(), attemptSignal, offered)) {
      if (attemptSignal.aborted) break;
      if (event.type === 'tool_call') {
        calls.push(event.call);
        arm(config.idleTimeoutMs, 'the model stream went silent');
        continue;
      }
      // The consumer may take its time (TTS back-pressure): that is not the model being idle.
      clearTimeout(timer);
      text += event.text;
      yield { type: 'text', text: event.text };
      if (signal.aborted) return { kind: 'aborted' };
      arm(config.idleTimeoutMs, 'the model stream went silent');
    }
  } catch (err) {
    if (signal.aborted) return { kind: 'aborted' };
    if (timeout.signal.aborted) return { kind: 'failed', error: timeout.signal.reason as VoicebotError, text };
    const error = err instanceof VoicebotError ? err : new VoicebotError('llm_failed', 'the model client failed', { cause: err });
    return { kind: 'failed', error, text };
  } finally {
    clearTimeout(timer);
  }
  if (signal.aborted) return { kind: 'aborted' };
  if (timeout.signal.aborted) {
    const error = timeout.signal.reason as VoicebotError;
    deps.observer?.providerError('llm', 'llm_timeout');
    return { kind: 'failed', error, text };
  }
  return { kind: 'done', text, calls };
}

type ToolOutcome = 'reask' | 'hung_up' | 'transferred';

/** Executes one tool call through the call control; refusals go back to the model. */
async function runTool(call: ToolCall, deps: ReplyDeps, log: Logger): Promise<{ outcome: ToolOutcome; content: string }> {
  const { control, config } = deps;
  const args = parseArguments(call.function.arguments);
  const name = call.function.name;
  try {
    if (name === HANG_UP) {
      const reason = typeof args.reason === 'string' && args.reason !== '' ? args.reason : 'the model ended the call';
      log.info({ tool: name }, 'model hangs up');
      await control.hangUp(reason);
      return { outcome: 'hung_up', content: 'The call will end after your reply has been played.' };
    }
    if (name === TRANSFER && config.transferDestinations.length > 0) {
      const wanted = typeof args.destination === 'string' ? args.destination : '';
      const destination = findDestination(config.transferDestinations, wanted);
      const allowed = config.transferDestinations.map((d) => d.name).join(', ');
      if (destination === undefined) {
        log.warn({ tool: name }, 'transfer to a destination outside the allowlist refused');
        return {
          outcome: 'reask',
          content: `Transfer refused: "${wanted}" is not an available destination. Available: ${allowed}. Tell the caller and offer one of these.`,
        };
      }
      log.info({ tool: name, destination: destination.name }, 'model transfers the caller');
      const result = await control.transfer(destination.extension);
      if (result.ok) return { outcome: 'transferred', content: result.message };
      return { outcome: 'reask', content: `Transfer failed: ${result.message} Tell the caller.` };
    }
    log.warn({ tool: name }, 'model called an unknown tool');
    return { outcome: 'reask', content: `There is no tool named "${name}". Answer the caller in words.` };
  } catch (err) {
    log.error({ tool: name, err }, 'tool call failed');
    if (name === HANG_UP) return { outcome: 'hung_up', content: 'The call is ending.' };
    return { outcome: 'reask', content: 'The operation failed. Tell the caller and offer to help otherwise.' };
  }
}
