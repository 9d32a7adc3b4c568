import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { EnvReader } from '../src/config/env-reader.js';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { readLlmConfig, type LlmConfig } from '../src/llm/config.js';
import type { ChatMessage, LlmEvent } from '../src/llm/llm.js';
import { createOpenAiLlm } from '../src/llm/openai-llm.js';
import { startFakeOpenAi, type FakeOpenAi } from './fakes/openai-server.js';
import { waitFor } from './support/wait-for.js';

let fake: FakeOpenAi;
before(async () => {
  fake = await startFakeOpenAi();
});
after(() => fake.close());

function config(env: Record<string, string> = {}): LlmConfig {
  const reader = new EnvReader({ OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: 'sk-test-secret', LLM_MODEL: 'test-model', ...env });
  const cfg = readLlmConfig(reader);
  reader.finish();
  return cfg;
}

const HISTORY: ChatMessage[] = [
  { role: 'system', content: 'You are a test.' },
  { role: 'user', content: 'Hi' },
];

async function collect(events: AsyncIterable<LlmEvent>): Promise<LlmEvent[]> {
  const out: LlmEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function failure(events: AsyncIterable<LlmEvent>): Promise<{ error: VoicebotError; before: LlmEvent[] }> {
  const seen: LlmEvent[] = [];
  try {
    for await (const event of events) seen.push(event);
  } catch (err) {
    assert.ok(err instanceof VoicebotError, `expected a VoicebotError, got ${String(err)}`);
    return { error: err, before: seen };
  }
  assert.fail('expected the reply to fail');
}

test('streams text deltas in order and sends the request the endpoint expects', async () => {
  fake.setScript([{ text: 'Hello there, how can I help?' }]);
  const start = fake.requests.length;
  const llm = createOpenAiLlm(config({ LLM_TEMPERATURE: '0.2', LLM_MAX_TOKENS: '120', OPENAI_PROJECT: 'b1gfolder' }), silentLogger());
  const events = await collect(llm.reply(HISTORY, new AbortController().signal));
  assert.ok(events.length > 3, 'the text arrives as several deltas');
  assert.equal(events.map((e) => (e.type === 'text' ? e.text : '')).join(''), 'Hello there, how can I help?');
  const request = fake.requests[start]!;
  assert.equal(request.body.model, 'test-model');
  assert.equal(request.body.stream, true);
  assert.equal(request.body.temperature, 0.2);
  assert.equal(request.body.max_tokens, 120);
  assert.deepEqual(request.body.messages, HISTORY);
  assert.equal(request.headers.authorization, 'Bearer sk-test-secret');
  assert.equal(request.headers['openai-project'], 'b1gfolder');
  assert.deepEqual(request.body.tools.map((t: any) => t.function.name), ['hang_up']);
});

test('offers transfer with the allowed names only when destinations are configured', async () => {
  fake.setScript([{ text: 'Ok.' }]);
  const start = fake.requests.length;
  const llm = createOpenAiLlm(config({ TRANSFER_DESTINATIONS: 'sales=1001, support=1002' }), silentLogger());
  await collect(llm.reply(HISTORY, new AbortController().signal));
  const tools = fake.requests[start]!.body.tools;
  assert.deepEqual(tools.map((t: any) => t.function.name), ['hang_up', 'transfer']);
  assert.deepEqual(tools[1].function.parameters.properties.destination.enum, ['sales', 'support']);
});

test('assembles tool calls from deltas split across chunks', async () => {
  fake.setScript([
    {
      text: 'Connecting you.',
      toolCalls: [
        { id: 'call_a', name: 'transfer', arguments: '{"destination":"sales"}' },
        { id: 'call_b', name: 'hang_up', arguments: '{"reason":"caller asked to end the call"}' },
      ],
    },
  ]);
  const llm = createOpenAiLlm(config({ TRANSFER_DESTINATIONS: 'sales=1001' }), silentLogger());
  const events = await collect(llm.reply(HISTORY, new AbortController().signal));
  const calls = events.filter((e) => e.type === 'tool_call');
  assert.deepEqual(calls, [
    { type: 'tool_call', call: { id: 'call_a', type: 'function', function: { name: 'transfer', arguments: '{"destination":"sales"}' } } },
    { type: 'tool_call', call: { id: 'call_b', type: 'function', function: { name: 'hang_up', arguments: '{"reason":"caller asked to end the call"}' } } },
  ]);
  assert.equal(events[0]!.type, 'text');
});

test('an abort cancels the request on the wire and ends the stream quietly', async () => {
  fake.setScript([{ text: 'one two three four five six seven eight nine ten', tokenDelayMs: 50 }]);
  const aborted = fake.abortedCount();
  const llm = createOpenAiLlm(config(), silentLogger());
  const controller = new AbortController();
  const seen: LlmEvent[] = [];
  for await (const event of llm.reply(HISTORY, controller.signal)) {
    seen.push(event);
    if (seen.length === 2) controller.abort();
  }
  assert.equal(seen.length, 2);
  await fake.waitForAborted(aborted + 1);
});

test('an abort while waiting for the first token cancels the request', async () => {
  fake.setScript([{ hang: true }]);
  const aborted = fake.abortedCount();
  const requests = fake.requests.length;
  const llm = createOpenAiLlm(config(), silentLogger());
  const controller = new AbortController();
  void waitFor(() => fake.requests.length > requests, 'the request').then(() => controller.abort());
  assert.deepEqual(await collect(llm.reply(HISTORY, controller.signal)), []);
  await fake.waitForAborted(aborted + 1);
});

test('a 5xx is a retryable llm_unavailable, and the package does not retry by itself', async () => {
  for (const status of [500, 503]) {
    fake.setScript([{ status }]);
    const start = fake.requests.length;
    const { error } = await failure(createOpenAiLlm(config(), silentLogger()).reply(HISTORY, new AbortController().signal));
    assert.equal(error.code, 'llm_unavailable');
    assert.equal(error.retryable, true);
    assert.equal(fake.requests.length - start, 1);
  }
});

test('a 401 is a non-retryable llm_failed whose message holds no key', async () => {
  fake.setScript([{ status: 401 }]);
  const { error } = await failure(createOpenAiLlm(config(), silentLogger()).reply(HISTORY, new AbortController().signal));
  assert.equal(error.code, 'llm_failed');
  assert.equal(error.retryable, false);
  assert.ok(!error.message.includes('sk-test-secret'));
});

test('a stream cut mid-way fails retryably after the text already streamed', async () => {
  fake.setScript([{ text: 'one two three four five', cutAfterTokens: 2 }]);
  const { error, before: seen } = await failure(createOpenAiLlm(config(), silentLogger()).reply(HISTORY, new AbortController().signal));
  assert.equal(error.code, 'llm_unavailable');
  assert.equal(error.retryable, true);
  assert.deepEqual(seen.map((e) => (e.type === 'text' ? e.text : '')), ['one', ' two']);
});

test('a refused connection is a retryable llm_unavailable', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const reader = new EnvReader({ OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` });
  const { error } = await failure(createOpenAiLlm(readLlmConfig(reader), silentLogger()).reply(HISTORY, new AbortController().signal));
  assert.equal(error.code, 'llm_unavailable');
  assert.equal(error.retryable, true);
});
