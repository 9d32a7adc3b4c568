import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, test } from 'node:test';
import { WebSocket } from 'ws';

import { createChannelControl } from '../src/ari/channel-control.js';
import { ariStatusOf, createAriClient, type AriClient } from '../src/ari/client.js';
import { readAriConfig } from '../src/ari/config.js';
import { connectAri } from '../src/ari/connect.js';
import {
  CHANNEL_GLOBAL_PREFIX,
  DESTINATION_FILTER,
  TRANSFER_CONTEXT,
  TRANSFER_GLOBAL_PREFIX,
  UUID_VARIABLE,
  channelGlobalName,
  isDialplanSafeDestination,
  transferGlobalName,
} from '../src/ari/variables.js';
import { EnvReader } from '../src/config/env-reader.js';
import { VoicebotError } from '../src/errors.js';
import { createLogger, silentLogger, type Logger } from '../src/logger.js';
import { startFakeAri, type FakeAri } from './fakes/ari-server.js';
import { waitFor } from './support/wait-for.js';

const USER = 'voicebot';
const PASSWORD = 'pa55-Very-Secret-9f3c';
const CALL_ID = '3f0e4c1a-8b2d-4e6f-9a1b-2c3d4e5f6a7b';
const CHANNEL_ID = '1732429200.42';
const OTHER_CALL_ID = '0b9a8c7d-6e5f-4a3b-8c1d-0e9f8a7b6c5d';

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A debug-level logger whose lines can be inspected, plus the raw text for secret checks. */
function captureLogger(): { log: Logger; lines: LogLine[]; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger('debug', sink);
  return {
    log,
    get lines() {
      return chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogLine);
    },
    text: () => chunks.join(''),
  };
}

const WARN = 40;
const atLeastWarn = (lines: LogLine[]) => lines.filter((l) => l.level >= WARN);

let fake: FakeAri;
let ari: AriClient;

before(async () => {
  fake = await startFakeAri({ user: USER, password: PASSWORD });
});

after(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.channels.clear();
  fake.globals.clear();
  fake.requests.length = 0;
  fake.setDown(false);
  fake.setStall(false);
  fake.setDelay(0);
  // A deadline no answer of a loaded machine reaches; the tests of the deadline set their own.
  ari = createAriClient({ url: fake.url, user: USER, password: PASSWORD, timeoutMs: 10_000 });
});

/** Puts the caller's channel and the dialplan's link in the fake, as the sample dialplan does. */
function linkedCall(): void {
  fake.addChannel(CHANNEL_ID, { [UUID_VARIABLE]: CALL_ID });
  fake.globals.set(channelGlobalName(CALL_ID), CHANNEL_ID);
}

test('channelExists is true for a known channel and false after it is gone', async () => {
  fake.addChannel(CHANNEL_ID);
  assert.equal(await ari.channelExists(CHANNEL_ID), true);
  fake.removeChannel(CHANNEL_ID);
  assert.equal(await ari.channelExists(CHANNEL_ID), false);
  assert.deepEqual(fake.requests.map((r) => `${r.method} ${r.path}`), [
    `GET /ari/channels/${CHANNEL_ID}`,
    `GET /ari/channels/${CHANNEL_ID}`,
  ]);
});

test('hangup deletes the channel once and treats a second 404 as already gone', async () => {
  fake.addChannel(CHANNEL_ID);
  assert.equal(await ari.hangup(CHANNEL_ID), true);
  assert.equal(fake.channels.has(CHANNEL_ID), false);
  assert.equal(await ari.hangup(CHANNEL_ID), false);
});

test('variables: channel variable, global, missing global, set and delete', async () => {
  fake.addChannel(CHANNEL_ID, { [UUID_VARIABLE]: CALL_ID });
  assert.equal(await ari.getVariable(UUID_VARIABLE, CHANNEL_ID), CALL_ID);
  assert.equal(await ari.getVariable('NOPE', CHANNEL_ID), undefined);
  assert.equal(await ari.getVariable('NOPE'), undefined);
  await ari.setGlobalVariable('VOICEBOT_TEST', 'a b&c');
  assert.equal(fake.globals.get('VOICEBOT_TEST'), 'a b&c');
  assert.equal(await ari.getVariable('VOICEBOT_TEST'), 'a b&c');
  await ari.deleteGlobalVariable('VOICEBOT_TEST');
  assert.equal(fake.globals.has('VOICEBOT_TEST'), false);
});

test('a request that is never answered fails as ari_unavailable within the timeout', async () => {
  fake.setStall(true);
  const slow = createAriClient({ url: fake.url, user: USER, password: PASSWORD, timeoutMs: 150 });
  const started = performance.now();
  await assert.rejects(slow.channelExists(CHANNEL_ID), (err: unknown) => {
    assert.ok(err instanceof VoicebotError);
    assert.equal(err.code, 'ari_unavailable');
    assert.equal(err.retryable, true);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 140 && elapsed < 5_000, `failed after ${elapsed} ms`);
});

test('a dropped connection fails as ari_unavailable', async () => {
  fake.setDown(true);
  await assert.rejects(ari.channelExists(CHANNEL_ID), (err: unknown) => err instanceof VoicebotError && err.code === 'ari_unavailable');
});

test('a wrong password is ari_failed with status 401 and the password appears nowhere', async () => {
  const wrong = 'wr0ng-Secret-Value-77';
  const capture = captureLogger();
  const client = await connectAri({ url: fake.url, user: USER, password: wrong, timeoutMs: 10_000 }, capture.log);
  assert.ok(client !== undefined);
  await assert.rejects(client.channelExists(CHANNEL_ID), (err: unknown) => {
    assert.ok(err instanceof VoicebotError);
    assert.equal(err.code, 'ari_failed');
    assert.equal(err.retryable, false);
    assert.equal(ariStatusOf(err), 401);
    assert.ok(!err.message.includes(wrong));
    assert.ok(!JSON.stringify(err.cause).includes(wrong));
    return true;
  });
  const warnings = atLeastWarn(capture.lines);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.status, 401);
  assert.ok(!capture.text().includes(wrong));
  assert.ok(!capture.text().includes(Buffer.from(`${USER}:${wrong}`).toString('base64')));
});

test('a 5xx answer is ari_unavailable and retryable; an unknown resource is ari_failed 404', async () => {
  const server = createServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"busy"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = createAriClient({ url: `http://127.0.0.1:${port}/ari/`, user: USER, password: PASSWORD, timeoutMs: 10_000 });
    await assert.rejects(client.ping(), (err: unknown) => {
      assert.ok(err instanceof VoicebotError);
      assert.equal(err.code, 'ari_unavailable');
      assert.equal(err.retryable, true);
      assert.equal(ariStatusOf(err), 503);
      assert.match(err.message, /busy/);
      return true;
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const misplaced = createAriClient({ url: `${fake.url}/not-ari`, user: USER, password: PASSWORD, timeoutMs: 10_000 });
  await assert.rejects(misplaced.ping(), (err: unknown) => err instanceof VoicebotError && err.code === 'ari_failed' && ariStatusOf(err) === 404);
});

test('the fake serves ARI events over WebSocket to a client with the right api_key', async () => {
  const socket = new WebSocket(`${fake.url.replace('http:', 'ws:')}/ari/events?app=voicebot&api_key=${USER}:${PASSWORD}`);
  await once(socket, 'open');
  const message = once(socket, 'message');
  fake.emitEvent({ type: 'ChannelDestroyed', channel: { id: CHANNEL_ID } });
  const [data] = (await message) as [Buffer];
  assert.equal((JSON.parse(data.toString()) as { type: string }).type, 'ChannelDestroyed');
  socket.close();

  const refused = new WebSocket(`${fake.url.replace('http:', 'ws:')}/ari/events?app=voicebot&api_key=${USER}:wrong`);
  const [, response] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(response.statusCode, 401);
  refused.on('error', () => {});
  refused.terminate();
});

test('ARI down at start gives exactly one warning, and a call logs its failures once', async () => {
  fake.setDown(true);
  const capture = captureLogger();
  const client = await connectAri({ url: fake.url, user: USER, password: PASSWORD, timeoutMs: 10_000 }, capture.log);
  assert.ok(client !== undefined);
  const control = createChannelControl({ ari: client, callId: CALL_ID, log: capture.log.child({ callId: CALL_ID }) });
  assert.equal(await control.exists(), false);
  assert.equal(await control.hangup(), false);
  assert.equal(await control.requestTransfer('sales'), false);
  // One warning from the client for the outage, one from the call for its failed requests.
  const warnings = atLeastWarn(capture.lines);
  assert.equal(warnings.length, 2, JSON.stringify(warnings));
  assert.equal(warnings.filter((l) => l.callId === undefined && l.code === 'ari_unavailable').length, 1, 'the outage is reported once');
  assert.equal(warnings.filter((l) => l.callId === CALL_ID && l.code === 'ari_unavailable').length, 1, 'the call reports its failures once');
  assert.ok(!capture.text().includes(PASSWORD));

  fake.setDown(false);
  linkedCall();
  assert.equal(await control.exists(), true);
  assert.equal(atLeastWarn(capture.lines).length, 2, 'a recovery is no warning');
  // Once ARI is back, the next outage is a new one: reported again, once.
  fake.setDown(true);
  await assert.rejects(client.channelExists(CHANNEL_ID), (err: unknown) => err instanceof VoicebotError && err.code === 'ari_unavailable');
  await assert.rejects(client.channelExists(CHANNEL_ID), (err: unknown) => err instanceof VoicebotError && err.code === 'ari_unavailable');
  assert.equal(atLeastWarn(capture.lines).filter((l) => l.callId === undefined).length, 2, 'the second outage is reported');
});

test('a call resolves its channel once, consumes the link and caches the id', async () => {
  linkedCall();
  const control = createChannelControl({ ari, callId: CALL_ID.toUpperCase(), log: silentLogger() });
  assert.equal(await control.resolveChannel(), CHANNEL_ID);
  assert.equal(fake.globals.has(channelGlobalName(CALL_ID)), false, 'link deleted after reading');
  assert.equal(await control.resolveChannel(), CHANNEL_ID);
  assert.equal(fake.requests.filter((r) => r.path === '/ari/asterisk/variable' && r.method === 'GET').length, 1);
});

test('exists turns false when the caller leaves, with no warning or error logged', async () => {
  linkedCall();
  const capture = captureLogger();
  const control = createChannelControl({ ari, callId: CALL_ID, log: capture.log });
  assert.equal(await control.exists(), true);
  fake.removeChannel(CHANNEL_ID);
  assert.equal(await control.exists(), false);
  assert.deepEqual(atLeastWarn(capture.lines), []);
  // Known gone: the next question needs no request.
  const requests = fake.requests.length;
  assert.equal(await control.exists(), false);
  assert.equal(fake.requests.length, requests);
});

test('hangup checks existence first and never sends DELETE for a channel that is gone', async () => {
  fake.addChannel('1732429200.7');
  fake.globals.set(channelGlobalName(OTHER_CALL_ID), '1732429200.7');
  const early = createChannelControl({ ari, callId: OTHER_CALL_ID, log: silentLogger() });
  assert.equal(await early.resolveChannel(), '1732429200.7');
  fake.removeChannel('1732429200.7');
  assert.equal(await early.hangup(), false);
  assert.equal(fake.requests.filter((r) => r.method === 'DELETE').length, 0);

  linkedCall();
  const capture = captureLogger();
  const control = createChannelControl({ ari, callId: CALL_ID, log: capture.log });
  assert.equal(await control.hangup(), true);
  assert.equal(fake.channels.has(CHANNEL_ID), false);
  const afterHangup = fake.requests.map((r) => `${r.method} ${r.path}`).slice(-2);
  assert.deepEqual(afterHangup, [`GET /ari/channels/${CHANNEL_ID}`, `DELETE /ari/channels/${CHANNEL_ID}`]);

  const before = fake.requests.length;
  assert.equal(await control.hangup(), false);
  assert.equal(await control.exists(), false);
  assert.equal(fake.requests.length, before, 'a channel known to be gone is not asked about again');
  assert.deepEqual(atLeastWarn(capture.lines), []);
});

test('transfer leaves the destination in the global the dialplan reads', async () => {
  linkedCall();
  const capture = captureLogger();
  const control = createChannelControl({ ari, callId: CALL_ID, log: capture.log });
  assert.equal(await control.requestTransfer('sales'), true);
  assert.equal(fake.globals.get(`${TRANSFER_GLOBAL_PREFIX}${CALL_ID}`), 'sales');
  assert.equal(fake.channels.has(CHANNEL_ID), true, 'the caller stays; the dialplan moves it');
  assert.deepEqual(atLeastWarn(capture.lines), []);

  // Redirecting a channel outside Stasis is what ARI refuses; the global is the way around it.
  const redirect = await fetch(`${fake.url}/ari/channels/${CHANNEL_ID}/redirect?endpoint=PJSIP/sales`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
  });
  assert.equal(redirect.status, 409);
  assert.deepEqual(await redirect.json(), { message: 'Channel not in Stasis application' });
});

test('transfer refuses dialplan syntax without any request, and a gone caller without setting', async () => {
  linkedCall();
  const control = createChannelControl({ ari, callId: CALL_ID, log: silentLogger() });
  for (const bad of ['sales,1', 'other-context', '_X.', '${SHELL(id)}', '', 'a'.repeat(65)]) {
    assert.equal(await control.requestTransfer(bad), false, bad);
  }
  assert.equal(fake.requests.length, 0);

  fake.removeChannel(CHANNEL_ID);
  assert.equal(await control.requestTransfer('sales'), false);
  assert.equal(fake.globals.has(transferGlobalName(CALL_ID)), false);
});

test('after detach no ARI request is made, and the one in flight is abandoned', async () => {
  linkedCall();
  const control = createChannelControl({ ari, callId: CALL_ID, log: silentLogger() });
  assert.equal(await control.resolveChannel(), CHANNEL_ID);

  const delayMs = 2_000;
  fake.setDelay(delayMs);
  const requestsBefore = fake.requests.length;
  const hangup = control.hangup();
  await waitFor(() => fake.requests.length > requestsBefore, 'the existence check');
  const inFlight = fake.requests.length;
  assert.equal(fake.requests.at(-1)?.method, 'GET', 'existence check in flight');
  assert.equal(fake.requests.at(-1)?.path, `/ari/channels/${CHANNEL_ID}`);
  const detachedAt = Date.now();
  control.detach();
  const settledIn = await hangup.then((result) => {
    assert.equal(result, false);
    return Date.now() - detachedAt;
  });
  assert.ok(settledIn < delayMs * 0.75, `in-flight request abandoned after ${settledIn} ms, the answer was due after ${delayMs} ms`);

  assert.equal(await control.exists(), false);
  assert.equal(await control.hangup(), false);
  assert.equal(await control.requestTransfer('sales'), false);
  assert.equal(await control.resolveChannel(), undefined);
  assert.equal(control.detached, true);

  // Past the delayed answer: a control that had not abandoned it would act on it by now.
  await sleep(Math.max(0, fake.requests.at(-1)!.at + delayMs + 300 - Date.now()));
  assert.deepEqual(fake.requests.slice(inFlight), []);
  assert.equal(fake.requests.some((r) => r.method === 'DELETE'), false);
  assert.equal(fake.channels.has(CHANNEL_ID), true);
});

test('without ARI configured every operation is a quiet no-op', async () => {
  const capture = captureLogger();
  assert.equal(await connectAri({ url: undefined, user: USER, password: '', timeoutMs: 2_000 }, capture.log), undefined);
  const control = createChannelControl({ ari: undefined, callId: CALL_ID, log: capture.log });
  assert.equal(await control.resolveChannel(), undefined);
  assert.equal(await control.exists(), false);
  assert.equal(await control.hangup(), false);
  assert.equal(await control.requestTransfer('sales'), false);
  assert.deepEqual(atLeastWarn(capture.lines), []);
});

test('ARI_* settings: defaults, a password required with ARI_URL, no credentials in the URL', () => {
  const defaults = readAriConfig(new EnvReader({}));
  assert.deepEqual(defaults, { url: undefined, user: 'voicebot', password: '', timeoutMs: 2_000, cleanupDelayMs: 5_000 });

  const full = new EnvReader({ ARI_URL: 'http://10.0.0.5:8088/ari', ARI_USER: 'bot', ARI_PASSWORD: 'x', ARI_TIMEOUT_MS: '500', ARI_CLEANUP_DELAY_MS: '50' });
  assert.deepEqual(readAriConfig(full), { url: 'http://10.0.0.5:8088/ari', user: 'bot', password: 'x', timeoutMs: 500, cleanupDelayMs: 50 });
  full.finish();

  const bad = new EnvReader({ ARI_URL: 'http://bot:secret@10.0.0.5:8088', ARI_TIMEOUT_MS: '0', ARI_CLEANUP_DELAY_MS: '0' });
  readAriConfig(bad);
  assert.throws(() => bad.finish(), (err: unknown) => {
    assert.ok(err instanceof VoicebotError);
    assert.equal(err.code, 'config_invalid');
    assert.match(err.message, /ARI_URL: must not contain credentials/);
    assert.match(err.message, /ARI_PASSWORD: required/);
    assert.match(err.message, /ARI_TIMEOUT_MS/);
    assert.match(err.message, /ARI_CLEANUP_DELAY_MS/);
    return true;
  });
});

test('the sample dialplan uses the variable names and destination filter the server uses', async () => {
  const text = await readFile(new URL('../asterisk-config/extensions.conf', import.meta.url), 'utf8');
  const lines = text.split('\n').map((l) => l.replace(/;.*$/, '').trim()).filter((l) => l !== '');
  const contexts = new Map<string, string[]>();
  let current = '';
  for (const line of lines) {
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header !== null) {
      current = header[1] ?? '';
      contexts.set(current, []);
    } else {
      contexts.get(current)?.push(line);
    }
  }
  const uuid = `\${${UUID_VARIABLE}}`;
  const link = `GLOBAL(${CHANNEL_GLOBAL_PREFIX}${uuid})`;
  const decision = `GLOBAL(${TRANSFER_GLOBAL_PREFIX}${uuid})`;
  const entry = contexts.get('voicebot') ?? [];

  assert.ok(entry.some((l) => l.includes(`Set(${UUID_VARIABLE}=\${UUID()})`)), 'a fresh UUID per call');
  assert.ok(entry.some((l) => l.includes(`Set(${link}=\${UNIQUEID})`)), 'the link holds the ARI channel id');
  assert.ok(entry.some((l) => l.includes(`AudioSocket(${uuid},`)), 'application form');
  const dial = entry.find((l) => l.includes('Dial(AudioSocket/'));
  assert.match(dial ?? '', new RegExp(`Dial\\(AudioSocket/[^/]+/\\$\\{${UUID_VARIABLE}\\}/c\\(slin16\\),[^,]*,[^)]*g`), 'Dial form at 16 kHz continuing with g');

  const afterSocket = (contexts.get('voicebot-after') ?? []).join('\n');
  assert.ok(afterSocket.includes(`FILTER(${DESTINATION_FILTER},\${${decision}})`), 'decision read through the same filter');
  assert.ok(afterSocket.includes(`DIALPLAN_EXISTS(${TRANSFER_CONTEXT},`), 'only existing destinations');
  assert.ok(afterSocket.includes(`?${TRANSFER_CONTEXT},`), 'goes only into the transfer context');

  assert.match(contexts.get('voicebot-after')?.[0] ?? '', /^exten => s,1,Set\(VOICEBOT_DEST=/, 'the decision is read first, before the server deletes it');

  const destinations = (contexts.get(TRANSFER_CONTEXT) ?? [])
    .map((l) => /^exten => ([^,]+),1,/.exec(l)?.[1])
    .filter((d): d is string => d !== undefined);
  assert.ok(destinations.length > 0);
  for (const destination of destinations) assert.ok(isDialplanSafeDestination(destination), destination);
  assert.ok(!destinations.some((d) => d.startsWith('_')), 'no patterns in the transfer context');
});
