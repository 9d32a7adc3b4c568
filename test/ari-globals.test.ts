import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { after, describe, test, type TestContext } from 'node:test';
import { createAriClient } from '../src/ari/client.js';
import { createGlobalCleanup } from '../src/ari/global-cleanup.js';
import { readWav } from '../src/audio/wav.js';
import { createLogger, silentLogger } from '../src/logger.js';
import { createDrain } from '../src/ops/drain.js';
import { runCall } from '../src/sim/run-call.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { startFakeAri, type FakeAri, type FakeAriRequest } from './fakes/ari-server.js';
import { ARI_PASSWORD, ARI_USER, closeChannels, startStack, type Stack, type StackOptions } from './support/stack.js';
import { waitFor as waitUntil } from './support/wait-for.js';

after(() => closeChannels());

const QUICK = { GREETING_TEXT: 'Hello.', BOT_LANGUAGE: 'en' };
const PREFIX = 'VOICEBOT_';
const WARN = 40;

function waitFor(check: () => boolean, ms: number, what: string): Promise<true> {
  return waitUntil(() => check() || undefined, what, ms);
}

/** A stack with ARI, closed when the test ends (once, whoever closes it first). */
async function open(t: TestContext, options: StackOptions): Promise<Stack> {
  const stack = await startStack({ ari: true, ...options });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= stack.close());
  t.after(close);
  return { ...stack, close };
}

/** Plays the dialplan's part before the AudioSocket connects: the caller's channel and the link. */
function dial(ari: FakeAri, uuid: string, channelId: string): void {
  ari.addChannel(channelId);
  ari.globals.set(`VOICEBOT_CHAN_${uuid}`, channelId);
}

const isDeletion = (r: FakeAriRequest) => r.method === 'POST' && r.path === '/ari/asterisk/variable' && r.query.value === undefined;
const isChannelRequest = (r: FakeAriRequest) => r.path.startsWith('/ari/channels');

const greeted = (call: SimulatedCall) => call.received.some((f) => f.voiced);

/**
 * The globals left in Asterisk: none once the cleanup deleted them, checked again after closing
 * the stack (nothing can be written or deleted after that); otherwise what is left after 20 s.
 */
async function globalsLeft(stack: Stack): Promise<string[]> {
  const ari = stack.ari!;
  try {
    await waitFor(() => ari.listGlobals(PREFIX).length === 0, 20_000, 'globals deleted');
  } catch {
    return ari.listGlobals(PREFIX);
  }
  await stack.close();
  return ari.listGlobals(PREFIX);
}

describe('a call leaves no globals in Asterisk', { concurrency: 4 }, () => {
  test('caller hang-up', async (t) => {
    const stack = await open(t, { tts: { msPerChar: 10 }, env: { ...QUICK, ARI_CLEANUP_DELAY_MS: '50' } });
    const uuid = '10000000-0000-4000-8000-000000000001';
    dial(stack.ari!, uuid, '1732440000.1');
    const summary = stack.nextSummary();
    const call = await SimulatedCall.connect({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 8000 });
    await waitFor(() => greeted(call), 60_000, 'greeting');
    await call.hangUp();
    assert.equal((await summary).outcome, 'caller_hangup');
    assert.deepEqual(await globalsLeft(stack), []);
  });

  test('bot hang-up through the model', async (t) => {
    const stack = await open(t, {
      stt: { finalText: () => 'that is all thank you', eouSilenceMs: 300 },
      llm: { script: [{ text: 'Goodbye!', toolCalls: [{ name: 'hang_up', arguments: '{"reason":"caller is done"}' }] }] },
      tts: { msPerChar: 10 },
      env: { ...QUICK, ARI_CLEANUP_DELAY_MS: '50' },
    });
    const uuid = '10000000-0000-4000-8000-000000000002';
    dial(stack.ari!, uuid, '1732440000.2');
    const order = await readWav(new URL('../../shared/audio/en-order-8k.wav', import.meta.url).pathname);
    const summary = stack.nextSummary();
    await runCall({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 8000, turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 300 }], hangupAfterMs: 60_000 });
    assert.equal((await summary).outcome, 'bot_hangup');
    assert.equal(stack.ari!.channels.has('1732440000.2'), false, 'the caller was hung up through ARI');
    assert.deepEqual(await globalsLeft(stack), []);
  });

  test('inactivity', async (t) => {
    const stack = await open(t, { tts: { msPerChar: 5 }, env: { ...QUICK, INACTIVITY_MS: '1000', ARI_CLEANUP_DELAY_MS: '50' } });
    const uuid = '10000000-0000-4000-8000-000000000003';
    dial(stack.ari!, uuid, '1732440000.3');
    const summary = stack.nextSummary();
    await runCall({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 8000, hangupAfterMs: 60_000 });
    assert.equal((await summary).outcome, 'inactivity');
    assert.deepEqual(await globalsLeft(stack), []);
  });

  test('maximum duration', async (t) => {
    const stack = await open(t, { tts: { msPerChar: 5 }, env: { ...QUICK, MAX_CALL_MS: '1000', ARI_CLEANUP_DELAY_MS: '50' } });
    const uuid = '10000000-0000-4000-8000-000000000004';
    dial(stack.ari!, uuid, '1732440000.4');
    const summary = stack.nextSummary();
    await runCall({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 16000, hangupAfterMs: 60_000 });
    assert.equal((await summary).outcome, 'max_duration');
    assert.deepEqual(await globalsLeft(stack), []);
  });

  test('transfer: the dialplan reads the decision after the socket closed, then it is deleted', async (t) => {
    // Long enough for the read below to happen before it even on a loaded machine.
    const delayMs = 1_000;
    const stack = await open(t, {
      tts: { msPerChar: 5 },
      env: { ...QUICK, DTMF_TRANSFER_DIGIT: '0', DTMF_TRANSFER_DESTINATION: 'operator', ARI_CLEANUP_DELAY_MS: String(delayMs) },
    });
    const ari = stack.ari!;
    const uuid = '10000000-0000-4000-8000-000000000005';
    dial(ari, uuid, '1732440000.5');
    const summary = stack.nextSummary();
    const call = await SimulatedCall.connect({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 8000 });
    await waitFor(() => greeted(call), 60_000, 'greeting');
    let decision: Promise<Response> | undefined;
    let closedAt = 0;
    call.once('close', () => {
      closedAt = Date.now();
      // [voicebot-after], priority 1: GLOBAL(VOICEBOT_XFER_${VOICEBOT_UUID}).
      decision = fetch(`${ari.url}/ari/asterisk/variable?variable=VOICEBOT_XFER_${uuid}`, {
        headers: { authorization: `Basic ${Buffer.from(`${ARI_USER}:${ARI_PASSWORD}`).toString('base64')}` },
      });
    });
    call.sendDtmf('0');
    assert.notEqual((await call.closed).by, 'client');
    assert.deepEqual(await (await decision!).json(), { value: 'operator' });
    assert.equal((await summary).outcome, 'transfer');
    assert.equal(ari.channels.has('1732440000.5'), true, 'the caller stays for the dialplan');

    assert.deepEqual(await globalsLeft(stack), []);
    const deletions = ari.requests.filter((r) => isDeletion(r) && r.query.variable === `VOICEBOT_XFER_${uuid}`);
    assert.equal(deletions.length, 1);
    // The client sees the close a little after the server does; half the delay is a safe floor.
    assert.ok(deletions[0]!.at - closedAt >= delayMs / 2, `decision deleted ${deletions[0]!.at - closedAt} ms after the socket closed`);
    assert.deepEqual(ari.requests.filter((r) => r.at > closedAt && isChannelRequest(r)), [], 'no channel request after the socket closed');
  });

  test('drain: a call ended by the drain and a transfer just before it leave nothing at exit', async (t) => {
    const stack = await open(t, {
      tts: { msPerChar: 5 },
      env: { ...QUICK, DTMF_TRANSFER_DIGIT: '0', DTMF_TRANSFER_DESTINATION: 'operator', ARI_CLEANUP_DELAY_MS: '2000' },
    });
    const ari = stack.ari!;
    const transferred = '10000000-0000-4000-8000-000000000006';
    const drained = '10000000-0000-4000-8000-000000000007';
    dial(ari, transferred, '1732440000.6');
    dial(ari, drained, '1732440000.7');
    const outcomes: string[] = [];
    const first = stack.nextSummary().then((s) => outcomes.push(s.outcome));
    const second = stack.nextSummary().then((s) => outcomes.push(s.outcome));
    const a = await SimulatedCall.connect({ port: stack.port, connectTimeoutMs: 30_000, uuid: transferred, sampleRate: 8000 });
    const b = await SimulatedCall.connect({ port: stack.port, connectTimeoutMs: 30_000, uuid: drained, sampleRate: 8000 });
    await waitFor(() => greeted(a) && greeted(b), 60_000, 'greetings');
    a.sendDtmf('0');
    await a.closed;
    assert.equal(ari.globals.get(`VOICEBOT_XFER_${transferred}`), 'operator');

    let atExit: string[] | undefined;
    const drain = createDrain({
      server: stack.server,
      log: silentLogger(),
      timeoutMs: 100,
      goodbyeMs: 3_000,
      goodbye: (call) => stack.app.goodbye(call),
      beforeExit: [() => stack.app.close!()],
      exit: () => (atExit = ari.listGlobals(PREFIX)),
    });
    await drain.drain('SIGTERM');
    await Promise.all([first, second]);
    assert.deepEqual(outcomes.sort(), ['drain', 'transfer']);
    assert.deepEqual(atExit, [], 'globals left when the process exits');
  });

  test('ARI down at the ending: the decision is deleted once ARI is back, with one warning however many retries', async (t) => {
    const stack = await open(t, {
      tts: { msPerChar: 5 },
      env: { ...QUICK, DTMF_TRANSFER_DIGIT: '0', DTMF_TRANSFER_DESTINATION: 'operator', ARI_CLEANUP_DELAY_MS: '1000' },
    });
    const ari = stack.ari!;
    const uuid = '20000000-0000-4000-8000-000000000001';
    dial(ari, uuid, '1732440001.1');
    const call = await SimulatedCall.connect({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 8000 });
    await waitFor(() => greeted(call), 60_000, 'greeting');
    let downAt = 0;
    call.once('close', () => {
      ari.setDown(true);
      downAt = Date.now();
    });
    call.sendDtmf('0');
    await call.closed;
    const failedAttempts = () => ari.requests.filter((r) => r.at >= downAt && isDeletion(r)).length;
    await waitFor(() => failedAttempts() >= 3, 20_000, 'retried deletions');
    assert.deepEqual(ari.listGlobals(PREFIX), [`VOICEBOT_XFER_${uuid}=operator`]);
    const warnings = stack.logs.filter((l) => l.level >= WARN && l.time >= downAt);
    assert.equal(warnings.length, 1, `${failedAttempts()} failed attempts logged ${warnings.length} warnings`);

    ari.setDown(false);
    assert.deepEqual(await globalsLeft(stack), []);
    assert.equal(stack.logs.filter((l) => l.level >= WARN && l.time >= downAt).length, 1);
  });

  test('ARI down at the start: the link the server could not read is deleted after the call', async (t) => {
    const stack = await open(t, { tts: { msPerChar: 5 }, env: { ...QUICK, ARI_CLEANUP_DELAY_MS: '50' } });
    const ari = stack.ari!;
    const uuid = '20000000-0000-4000-8000-000000000002';
    dial(ari, uuid, '1732440001.2');
    ari.setDown(true);
    const call = await SimulatedCall.connect({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 8000 });
    const linkReads = () => ari.requests.filter((r) => r.method === 'GET' && r.path === '/ari/asterisk/variable').length;
    await waitFor(() => greeted(call) && linkReads() > 0, 60_000, 'greeting and a failed link read');
    await call.hangUp();
    await waitFor(() => ari.requests.some(isDeletion), 20_000, 'a deletion attempt');
    assert.deepEqual(ari.listGlobals(PREFIX), [`VOICEBOT_CHAN_${uuid}=1732440001.2`]);
    ari.setDown(false);
    assert.deepEqual(await globalsLeft(stack), []);
  });
});

describe('the cleanup queue', () => {
  test('keeps at most maxPending names, gives up the oldest with one warning', async () => {
    const deleted: string[] = [];
    const levels: number[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line !== '') levels.push((JSON.parse(line) as { level: number }).level);
        done();
      },
    });
    const ari = { deleteGlobalVariable: async (name: string) => void deleted.push(name) };
    const cleanup = createGlobalCleanup({ ari, delayMs: 50, log: createLogger('debug', sink), maxPending: 3 });
    cleanup.schedule(['A1', 'A2']);
    cleanup.schedule(['B1', 'B2']);
    cleanup.schedule(['C1']);
    assert.equal(cleanup.pending, 3);
    await cleanup.close();
    assert.deepEqual(deleted, ['B1', 'B2', 'C1']);
    assert.equal(cleanup.pending, 0);
    assert.equal(levels.filter((l) => l >= WARN).length, 1);
  });

  test('a refused deletion (wrong password) is not retried', async () => {
    const ari = await startFakeAri({ user: ARI_USER, password: ARI_PASSWORD });
    try {
      ari.globals.set('VOICEBOT_XFER_x', 'sales');
      const client = createAriClient({ url: ari.url, user: ARI_USER, password: 'wrong', timeoutMs: 1_000 });
      const cleanup = createGlobalCleanup({ ari: client, delayMs: 10, log: silentLogger(), retryMinMs: 10 });
      cleanup.schedule(['VOICEBOT_XFER_x']);
      await waitFor(() => cleanup.pending === 0, 15_000, 'refusal settled');
      await cleanup.close();
      assert.equal(ari.requests.filter(isDeletion).length, 1);
      assert.deepEqual(ari.listGlobals(PREFIX), ['VOICEBOT_XFER_x=sales']);
    } finally {
      await ari.close();
    }
  });

  test('pending deletions do not keep the process alive', async () => {
    const script = `
      import { createGlobalCleanup } from './src/ari/global-cleanup.ts';
      import { silentLogger } from './src/logger.ts';
      const failing = { deleteGlobalVariable: () => Promise.reject(new Error('down')) };
      const cleanup = createGlobalCleanup({ ari: failing, delayMs: 60_000, log: silentLogger() });
      cleanup.schedule(['VOICEBOT_XFER_a', 'VOICEBOT_CHAN_a']);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { PATH: process.env.PATH ?? '' },
      stdio: 'ignore',
    });
    const kill = setTimeout(() => child.kill(), 15_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(kill);
    assert.equal(code, 0, 'the process exited on its own, long before the deletion was due');
  });
});

test('the sample dialplans never write an empty global and never clear the call globals', async () => {
  for (const file of ['extensions.conf', 'extensions-scaleout.conf']) {
    const text = await readFile(new URL(`../asterisk-config/${file}`, import.meta.url), 'utf8');
    const code = text.split('\n').map((l) => l.replace(/;.*$/, '')).join('\n');
    const writes = [...code.matchAll(/Set\(GLOBAL\(([^)]+)\)=([^)\n]*)\)/g)];
    for (const [whole, , value] of writes) assert.notEqual(value, '', `${file}: ${whole}`);
    assert.doesNotMatch(code, /voicebot-cleanup/, file);
  }
});
