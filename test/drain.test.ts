import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { createAudioSocketServer, type AudioSocketCall, type AudioSocketServer } from '../src/audiosocket/server.js';
import { silentLogger } from '../src/logger.js';
import { createOpsHttpServer } from '../src/metrics/http-server.js';
import { installDrain } from '../src/ops/drain.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';

/** A server whose calls stay up until someone hangs up. */
async function startServer(): Promise<{ server: AudioSocketServer; port: number }> {
  const server = createAudioSocketServer({
    config: { host: '127.0.0.1', port: 0, idleTimeoutMs: 60_000 },
    log: silentLogger(),
    onCall: () => {},
  });
  const { port } = await server.listen();
  return { server, port };
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('drain lets active calls finish, ends the rest after the timeout, then exits 0', async () => {
  const { server, port } = await startServer();
  const http = createOpsHttpServer({ host: '127.0.0.1', port: 0, log: silentLogger() });
  const httpPort = await http.listen();
  const signals = new EventEmitter();
  const exits: number[] = [];
  const goodbyes: { id: string; atMs: number }[] = [];
  let flushed = false;
  const timeoutMs = 800;

  const drain = installDrain<AudioSocketCall>({
    server,
    http,
    log: silentLogger(),
    timeoutMs,
    goodbyeMs: 1_000,
    signals,
    exit: (code) => exits.push(code),
    goodbye: async (call) => {
      goodbyes.push({ id: call.id, atMs: Date.now() - started });
      await sleep(50);
      call.hangUp('server_closed');
    },
    beforeExit: [
      async () => {
        flushed = true;
      },
    ],
  });

  const short = await SimulatedCall.connect({ port, sampleRate: 16000 });
  const long = await SimulatedCall.connect({ port, sampleRate: 16000 });
  await waitFor(() => server.activeCalls === 2, 2_000);

  const started = Date.now();
  signals.emit('SIGTERM');
  assert.equal(drain.draining, true);

  const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(((await ready.json()) as { reasons: string[] }).reasons, ['draining']);
  await waitFor(() => !server.accepting, 1_000);
  assert.equal(await canConnect(port), false, 'listener is closed');

  await sleep(150);
  await short.hangUp();
  await sleep(250);
  assert.equal(long.active, true, 'a call in flight is not cut before the timeout');
  assert.equal(server.activeCalls, 1);
  assert.deepEqual(exits, []);

  const end = await long.closed;
  assert.notEqual(end.by, 'client');
  assert.equal(goodbyes.length, 1, 'only the call still up at the timeout gets a goodbye');
  assert.equal(goodbyes[0]!.id, long.uuid);
  assert.ok(goodbyes[0]!.atMs >= timeoutMs - 50, `goodbye at ${goodbyes[0]!.atMs} ms`);

  await waitFor(() => exits.length > 0, 3_000);
  assert.deepEqual(exits, [0]);
  assert.equal(flushed, true);
  assert.equal(server.activeCalls, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/healthz`), 'ops http is closed at the end');
  drain.uninstall();
});

test('drain exits as soon as the last call ends, without waiting for the timeout', async () => {
  const { server, port } = await startServer();
  const signals = new EventEmitter();
  const exits: number[] = [];
  const goodbyes: string[] = [];
  const drain = installDrain<AudioSocketCall>({
    server,
    log: silentLogger(),
    timeoutMs: 10_000,
    signals,
    exit: (code) => exits.push(code),
    goodbye: (call) => {
      goodbyes.push(call.id);
    },
  });
  const call = await SimulatedCall.connect({ port });
  await waitFor(() => server.activeCalls === 1, 2_000);
  const started = Date.now();
  signals.emit('SIGINT');
  await sleep(100);
  await call.hangUp();
  await waitFor(() => exits.length > 0, 3_000);
  assert.deepEqual(exits, [0]);
  assert.deepEqual(goodbyes, []);
  assert.ok(Date.now() - started < 3_000);
  drain.uninstall();
});

test('a second signal exits at once with a non-zero code', async () => {
  const { server, port } = await startServer();
  const signals = new EventEmitter();
  const exits: number[] = [];
  const drain = installDrain<AudioSocketCall>({
    server,
    log: silentLogger(),
    timeoutMs: 10_000,
    signals,
    exit: (code) => exits.push(code),
  });
  const call = await SimulatedCall.connect({ port });
  await waitFor(() => server.activeCalls === 1, 2_000);
  signals.emit('SIGTERM');
  await sleep(50);
  assert.deepEqual(exits, []);
  signals.emit('SIGTERM');
  assert.deepEqual(exits, [1]);
  assert.equal(call.active, true, 'the forced exit is left to the process; calls were not touched');

  await call.hangUp();
  await waitFor(() => exits.length === 2, 3_000);
  drain.uninstall();
  assert.equal(signals.listenerCount('SIGTERM'), 0);
});

test('a goodbye that hangs is cut off and the call is closed anyway', async () => {
  const { server, port } = await startServer();
  const exits: number[] = [];
  const drain = installDrain<AudioSocketCall>({
    server,
    log: silentLogger(),
    timeoutMs: 100,
    goodbyeMs: 200,
    signals: new EventEmitter(),
    exit: (code) => exits.push(code),
    goodbye: () => new Promise(() => {}),
  });
  const call = await SimulatedCall.connect({ port });
  await waitFor(() => server.activeCalls === 1, 2_000);
  const started = Date.now();
  await drain.drain('test');
  assert.deepEqual(exits, [0]);
  assert.equal(call.active, false);
  assert.ok(Date.now() - started < 2_500, `drain took ${Date.now() - started} ms`);
  drain.uninstall();
});
