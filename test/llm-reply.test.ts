import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EnvReader } from '../src/config/env-reader.js';
import { silentLogger } from '../src/logger.js';
import { readLlmConfig, type LlmConfig } from '../src/llm/config.js';
import { Conversation } from '../src/llm/conversation.js';
import type { CallControl } from '../src/llm/llm.js';
import { createOpenAiLlm } from '../src/llm/openai-llm.js';
import { phrasesFor, replyLines } from '../src/call/phrases.js';
import { streamReply, type ReplyEvent } from '../src/llm/reply.js';

const replyPhrases = (language: 'ru' | 'en') => replyLines(phrasesFor(language));
import { noopObserver, type Observer } from '../src/metrics/observer.js';
import { startFakeOpenAi, type FakeOpenAi, type FakeScript } from './fakes/openai-server.js';

let fake: FakeOpenAi;
before(async () => {
  fake = await startFakeOpenAi();
});
after(() => fake.close());

function config(env: Record<string, string> = {}): LlmConfig {
  const reader = new EnvReader({
    OPENAI_BASE_URL: fake.baseUrl,
    BOT_LANGUAGE: 'en',
    // Budgets a loaded machine stays within; the tests of the budgets set short ones.
    LLM_FIRST_TOKEN_TIMEOUT_MS: '10000',
    LLM_IDLE_TIMEOUT_MS: '10000',
    TRANSFER_DESTINATIONS: 'sales=1001,support=1002',
    ...env,
  });
  const cfg = readLlmConfig(reader);
  reader.finish();
  return cfg;
}

interface Harness {
  events: ReplyEvent[];
  requests: any[];
  hangUps: string[];
  transfers: string[];
  fallbacks: number;
  conversation: Conversation;
  elapsedMs: number;
}

async function reply(
  script: FakeScript,
  options: { env?: Record<string, string>; transferOk?: boolean; abortAfterEvents?: number } = {},
): Promise<Harness> {
  fake.setScript(script);
  const start = fake.requests.length;
  const cfg = config(options.env);
  const hangUps: string[] = [];
  const transfers: string[] = [];
  let fallbacks = 0;
  const observer: Observer = { ...noopObserver, fallback: () => void fallbacks++ };
  const control: CallControl = {
    async hangUp(reason) {
      hangUps.push(reason);
    },
    async transfer(destination) {
      transfers.push(destination);
      return options.transferOk === false ? { ok: false, message: 'The line is busy.' } : { ok: true, message: 'Transferred.' };
    },
  };
  const conversation = Conversation.fromConfig(cfg);
  conversation.addUser('Hello');
  const controller = new AbortController();
  const events: ReplyEvent[] = [];
  const started = performance.now();
  const llm = createOpenAiLlm(cfg, silentLogger());
  for await (const event of streamReply({ llm, conversation, control, signal: controller.signal, log: silentLogger(), config: cfg, phrases: replyPhrases('en'), observer })) {
    events.push(event);
    if (events.length === options.abortAfterEvents) controller.abort();
  }
  return {
    events,
    requests: fake.requests.slice(start).map((r) => r.body),
    hangUps,
    transfers,
    fallbacks,
    conversation,
    elapsedMs: performance.now() - started,
  };
}

const spoken = (events: ReplyEvent[]) => events.filter((e) => e.type === 'text').map((e) => e.text).join('');
const FALLBACK = replyPhrases('en').fallback;

test('a 5xx is retried once and the retry is spoken', async () => {
  const h = await reply([{ status: 503 }, { text: 'Hello, how can I help?' }]);
  assert.equal(spoken(h.events), 'Hello, how can I help?');
  assert.equal(h.requests.length, 2);
  assert.equal(h.fallbacks, 0);
});

test('two failures in a row end in the fallback phrase', async () => {
  const h = await reply([{ status: 500 }, { status: 500 }, { text: 'never asked' }]);
  assert.deepEqual(h.events, [{ type: 'fallback', text: FALLBACK }]);
  assert.equal(h.requests.length, 2);
  assert.equal(h.fallbacks, 1);
});

test('a rejected request (401) is not retried and ends in the fallback phrase', async () => {
  const h = await reply([{ status: 401 }, { text: 'never asked' }]);
  assert.deepEqual(h.events, [{ type: 'fallback', text: FALLBACK }]);
  assert.equal(h.requests.length, 1);
});

test('a first token later than the budget gives the fallback on time and cancels the request', async () => {
  const aborted = fake.abortedCount();
  // A budget the request reaches the fake within, however loaded the machine.
  const h = await reply([{ text: 'too late', firstTokenMs: 30_000 }], { env: { LLM_FIRST_TOKEN_TIMEOUT_MS: '2000' } });
  assert.deepEqual(h.events, [{ type: 'fallback', text: FALLBACK }]);
  assert.equal(h.requests.length, 1, 'no retry once the budget is spent');
  // Well before the 30 s first token: the budget, not the answer, ended it.
  assert.ok(h.elapsedMs >= 1900 && h.elapsedMs < 20_000, `took ${h.elapsedMs} ms`);
  await fake.waitForAborted(aborted + 1);
});

test('a quick failure is retried within the first-token budget', async () => {
  const h = await reply([{ cutAfterTokens: 0, text: 'x' }, { text: 'Second try works.' }]);
  assert.equal(spoken(h.events), 'Second try works.');
  assert.equal(h.requests.length, 2);
});

test('a stream cut after text ends the reply without a retry or repeated words', async () => {
  const h = await reply([{ text: 'I can certainly help you with your order today.', cutAfterTokens: 5 }, { text: 'duplicate' }]);
  assert.equal(spoken(h.events), 'I can certainly help you');
  assert.ok(!h.events.some((e) => e.type === 'fallback'));
  assert.equal(h.requests.length, 1);
});

test('a stream cut after a word or two is followed by the fallback phrase', async () => {
  const h = await reply([{ text: 'Well, I think so.', cutAfterTokens: 1 }]);
  assert.deepEqual(h.events, [
    { type: 'text', text: 'Well' },
    { type: 'fallback', text: FALLBACK },
  ]);
  assert.equal(h.requests.length, 1);
});

test('a stream gone silent mid-reply ends after the idle timeout', async () => {
  const h = await reply([{ text: 'Let me check that for you right away.', stallAfterTokens: 6 }], { env: { LLM_IDLE_TIMEOUT_MS: '200' } });
  assert.equal(spoken(h.events), 'Let me check that for you');
  assert.equal(h.requests.length, 1);
  assert.ok(h.elapsedMs < 5000, `took ${h.elapsedMs} ms`);
});

test('an empty answer is not silence: the fallback is spoken', async () => {
  const h = await reply([{ text: [] }]);
  assert.deepEqual(h.events, [{ type: 'fallback', text: FALLBACK }]);
});

test('an abort ends the reply quietly and cancels the request on the wire', async () => {
  const aborted = fake.abortedCount();
  const h = await reply([{ text: 'one two three four five six seven', tokenDelayMs: 40 }], { abortAfterEvents: 2 });
  assert.equal(h.events.length, 2);
  assert.equal(h.fallbacks, 0);
  await fake.waitForAborted(aborted + 1);
});

test('a transfer outside the allowlist is refused, the model is told and asked again', async () => {
  const h = await reply([
    { toolCalls: [{ id: 'call_x', name: 'transfer', arguments: '{"destination":"the CEO"}' }] },
    { text: 'Sorry, I can connect you to sales or support.' },
  ]);
  assert.deepEqual(h.transfers, []);
  assert.equal(spoken(h.events), 'Sorry, I can connect you to sales or support.');
  assert.equal(h.requests.length, 2);
  const messages = h.requests[1].messages;
  assert.deepEqual(messages.at(-2).tool_calls[0].function, { name: 'transfer', arguments: '{"destination":"the CEO"}' });
  assert.equal(messages.at(-1).role, 'tool');
  assert.equal(messages.at(-1).tool_call_id, 'call_x');
  assert.match(messages.at(-1).content, /refused/i);
  assert.match(messages.at(-1).content, /sales, support/);
});

test('an allowed transfer goes through the call control with the extension and asks no more', async () => {
  const h = await reply([
    { text: 'Connecting you to sales.', toolCalls: [{ name: 'transfer', arguments: '{"destination":"Sales"}' }] },
    { text: 'never asked' },
  ]);
  assert.deepEqual(h.transfers, ['1001']);
  assert.equal(spoken(h.events), 'Connecting you to sales.');
  assert.equal(h.requests.length, 1);
});

test('a failed transfer is reported to the model, which tells the caller', async () => {
  const h = await reply(
    [{ toolCalls: [{ name: 'transfer', arguments: '{"destination":"support"}' }] }, { text: 'Support is busy right now.' }],
    { transferOk: false },
  );
  assert.deepEqual(h.transfers, ['1002']);
  assert.equal(spoken(h.events), 'Support is busy right now.');
  assert.match(h.requests[1].messages.at(-1).content, /busy/);
});

test('hang_up ends the call through the control and no further request is made', async () => {
  const h = await reply([
    { text: 'Goodbye, have a nice day!', toolCalls: [{ name: 'hang_up', arguments: '{"reason":"caller said bye"}' }] },
    { text: 'never asked' },
  ]);
  assert.deepEqual(h.hangUps, ['caller said bye']);
  assert.equal(spoken(h.events), 'Goodbye, have a nice day!');
  assert.equal(h.requests.length, 1);
  assert.deepEqual(h.conversation.messages().at(-1), {
    role: 'tool',
    tool_call_id: 'call_0',
    content: 'The call will end after your reply has been played.',
  });
});

test('a silent hang_up still says goodbye', async () => {
  const h = await reply([{ toolCalls: [{ name: 'hang_up', arguments: 'not json' }] }]);
  assert.equal(h.hangUps.length, 1);
  assert.deepEqual(h.events, [{ type: 'fallback', text: replyPhrases('en').goodbye }]);
});

test("the reply lines are the call's own lines, overrides included", () => {
  assert.match(replyPhrases('ru').fallback, /Извините/);
  const overridden = replyLines(phrasesFor('en', { goodbye: 'Bye now.', transfer: 'Hold on.' }));
  assert.deepEqual([overridden.goodbye, overridden.transferring], ['Bye now.', 'Hold on.']);
});

test('a consumer that stops reading cancels the request on the wire', async () => {
  fake.setScript([{ text: 'one two three four five six seven', tokenDelayMs: 40 }]);
  const aborted = fake.abortedCount();
  const cfg = config();
  const control: CallControl = { hangUp: async () => {}, transfer: async () => ({ ok: true, message: '' }) };
  const conversation = Conversation.fromConfig(cfg);
  conversation.addUser('Hello');
  const llm = createOpenAiLlm(cfg, silentLogger());
  for await (const event of streamReply({ llm, conversation, control, signal: new AbortController().signal, log: silentLogger(), config: cfg, phrases: replyPhrases('en') })) {
    assert.equal(event.type, 'text');
    break;
  }
  await fake.waitForAborted(aborted + 1);
});

test('an interruption between tool calls leaves every call answered and runs no more of them', async () => {
  fake.setScript([
    {
      toolCalls: [
        { id: 't1', name: 'transfer', arguments: '{"destination":"sales"}' },
        { id: 't2', name: 'hang_up', arguments: '{}' },
      ],
    },
  ]);
  const cfg = config();
  const controller = new AbortController();
  const hangUps: string[] = [];
  const control: CallControl = {
    hangUp: async (reason) => void hangUps.push(reason),
    transfer: async () => {
      controller.abort();
      return { ok: false, message: 'Busy.' };
    },
  };
  const conversation = Conversation.fromConfig(cfg);
  conversation.addUser('Hello');
  const llm = createOpenAiLlm(cfg, silentLogger());
  const events: ReplyEvent[] = [];
  for await (const event of streamReply({ llm, conversation, control, signal: controller.signal, log: silentLogger(), config: cfg, phrases: replyPhrases('en') })) events.push(event);
  assert.deepEqual(events, []);
  assert.deepEqual(hangUps, []);
  const tail = conversation.messages().slice(-2);
  assert.deepEqual(tail.map((m) => (m.role === 'tool' ? m.tool_call_id : m.role)), ['t1', 't2']);
  assert.match(tail[1]!.content ?? '', /interrupted/);
});
