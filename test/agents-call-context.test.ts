import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, beforeEach, test } from 'node:test';

import { readCallContext } from '../src/agents/call-context.js';
import { createAriClient, type AriClient } from '../src/ari/client.js';
import { startFakeAri, type FakeAri } from './fakes/ari-server.js';

const USER = 'voicebot';
const PASSWORD = 'ari-secret-7c1e';
const CHANNEL = '1732429200.77';

let fake: FakeAri;
let ari: AriClient;

before(async () => {
  fake = await startFakeAri({ user: USER, password: PASSWORD });
  ari = createAriClient({ url: fake.url, user: USER, password: PASSWORD, timeoutMs: 2_000 });
});

after(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.channels.clear();
  fake.requests.length = 0;
  fake.setDown(false);
  fake.setStall(false);
  fake.setDelay(0);
});

async function variable(name: string, channelId = CHANNEL): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${fake.url}/ari/channels/${channelId}/variable?variable=${encodeURIComponent(name)}`, {
    headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
  });
  return { status: response.status, body: await response.json() };
}

test('the fake answers channel variables as Asterisk does: set, unset, function, no channel', async () => {
  fake.addChannel(CHANNEL, { VOICEBOT_AGENT: 'sales', VOICEBOT_EMPTY: '' }, { caller: { name: '', number: '+7900' }, dialplan: { context: 'voicebot', exten: '100' } });
  assert.deepEqual(await variable('VOICEBOT_AGENT'), { status: 200, body: { value: 'sales' } });
  assert.deepEqual(await variable('VOICEBOT_EMPTY'), { status: 200, body: { value: '' } });
  assert.deepEqual(await variable('VOICEBOT_NONE'), { status: 404, body: { message: 'Provided variable was not found' } });
  assert.deepEqual(await variable('CALLERID(num)'), { status: 200, body: { value: '+7900' } });
  assert.deepEqual(await variable('CALLERID(name)'), { status: 200, body: { value: '' } });
  assert.deepEqual(await variable('VOICEBOT_AGENT', '999.1'), { status: 404, body: { message: 'Provided channel was not found' } });
});

test('reads the agent, caller, dialled extension and the listed variables, all in parallel', async () => {
  fake.addChannel(
    CHANNEL,
    { VOICEBOT_AGENT: ' sales ', VOICEBOT_CUSTOMER_ID: 'C-42', VOICEBOT_EMPTY: '', OTHER: 'x' },
    { caller: { name: 'Ivan Petrov', number: '+79001234567' }, dialplan: { context: 'voicebot', exten: '100' } },
  );
  fake.setDelay(300);
  const started = performance.now();
  const context = await readCallContext({
    ari,
    channelId: CHANNEL,
    variables: ['VOICEBOT_CUSTOMER_ID', 'VOICEBOT_UNSET', 'VOICEBOT_EMPTY', 'VOICEBOT_AGENT'],
    timeoutMs: 2_000,
  });
  const elapsed = performance.now() - started;
  assert.deepEqual(context, {
    agent: 'sales',
    callerNumber: '+79001234567',
    callerName: 'Ivan Petrov',
    dialed: '100',
    variables: { VOICEBOT_AGENT: ' sales ', VOICEBOT_CUSTOMER_ID: 'C-42' },
    status: 'complete',
  });
  // Five requests of 300 ms each: in parallel they take one delay, in sequence five.
  assert.equal(fake.requests.length, 5);
  assert.ok(elapsed < 1_200, `took ${elapsed} ms`);
});

test('names that are not plain VOICEBOT_* variables are never sent to Asterisk', async () => {
  fake.addChannel(CHANNEL);
  const context = await readCallContext({ ari, channelId: CHANNEL, variables: ['SHELL(id)', 'HOME', 'voicebot_x'], timeoutMs: 2_000 });
  assert.equal(context.status, 'complete');
  assert.equal(context.agent, undefined);
  assert.deepEqual(context.variables, {});
  const asked = fake.requests.filter((r) => r.path.endsWith('/variable')).map((r) => r.query['variable']);
  assert.deepEqual(asked, ['VOICEBOT_AGENT']);
});

test('a channel Asterisk does not know gives an empty context flagged channel_not_found', async () => {
  const context = await readCallContext({ ari, channelId: 'gone.1', variables: ['VOICEBOT_X'], timeoutMs: 2_000 });
  assert.deepEqual(context, {
    agent: undefined,
    callerNumber: undefined,
    callerName: undefined,
    dialed: undefined,
    variables: {},
    status: 'channel_not_found',
  });
});

test('ARI down: the context comes back at once, flagged, without throwing', async () => {
  fake.addChannel(CHANNEL, { VOICEBOT_AGENT: 'sales' });
  fake.setDown(true);
  const started = performance.now();
  const context = await readCallContext({ ari, channelId: CHANNEL, variables: [], timeoutMs: 1_500 });
  assert.equal(context.status, 'ari_unavailable');
  assert.equal(context.agent, undefined);
  assert.ok(performance.now() - started < 1_500);
});

test('ARI stalled: the context comes back at the timeout, flagged', async () => {
  fake.addChannel(CHANNEL, { VOICEBOT_AGENT: 'sales' });
  fake.setStall(true);
  const started = performance.now();
  const context = await readCallContext({ ari, channelId: CHANNEL, variables: ['VOICEBOT_X'], timeoutMs: 200 });
  const elapsed = performance.now() - started;
  assert.equal(context.status, 'timeout');
  assert.equal(context.agent, undefined);
  assert.ok(elapsed >= 190 && elapsed < 1_200, `took ${elapsed} ms`);
});

test('an aborted call stops the reads and says so', async () => {
  fake.addChannel(CHANNEL);
  fake.setStall(true);
  const controller = new AbortController();
  const reading = readCallContext({ ari, channelId: CHANNEL, variables: [], timeoutMs: 5_000, signal: controller.signal });
  controller.abort();
  assert.equal((await reading).status, 'aborted');
  const already = await readCallContext({ ari, channelId: CHANNEL, variables: [], timeoutMs: 5_000, signal: AbortSignal.abort() });
  assert.equal(already.status, 'aborted');
});

test('wrong ARI credentials are flagged ari_failed', async () => {
  fake.addChannel(CHANNEL);
  const wrong = createAriClient({ url: fake.url, user: USER, password: 'nope', timeoutMs: 2_000 });
  assert.equal((await readCallContext({ ari: wrong, channelId: CHANNEL, variables: [], timeoutMs: 2_000 })).status, 'ari_failed');
});
