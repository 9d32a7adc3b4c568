import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createAudioSocketServer, type AudioSocketCall, type AudioSocketServer } from '../src/audiosocket/server.js';
import { silentLogger } from '../src/logger.js';
import { createOpsHttpServer } from '../src/metrics/http-server.js';
import { installDrain } from '../src/ops/drain.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { waitFor, within } from './support/wait-for.js';

/** A server whose calls stay up until someone hangs up; closed when the test ends. */
async function startServer(t: TestContext): Promise<{ server: AudioSocketServer; port: number }> {
  const server = createAudioSocketServer({
    config: { host: '127.0.0.1', port: 0, idleTimeoutMs: 60_000 },
    log: silentLogger(),
    onCall: () => {},
  });
  const { port } = await server.listen();
  t.after(() => server.close());
  return { server, port };
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

test('drain lets active calls finish, ends the rest after the timeout, then exits 0', async (t) => {
  const { server, port } = await startServer(t);
  const http = createOpsHttpServer({ host: '127.0.0.1', port: 0, log: silentLogger() });
  const httpPort = await http.listen();
  t.after(() => http.close());
  const signals = new EventEmitter();
  const exits: number[] = [];
  const goodbyes: { id: string; atMs: number }[] = [];
  let flushed = false;
  const timeoutMs = 2_500;

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
  await waitFor(() => server.activeCalls === 2, 'two calls');
  let longEndedAt = 0;
  const longEnd = long.closed.then((end) => {
    longEndedAt = Date.now();
    return end;
  });

  const started = Date.now();
  signals.emit('SIGTERM');
  assert.equal(drain.draining, true);

  const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(((await ready.json()) as { reasons: string[] }).reasons, ['draining']);
  await waitFor(() => !server.accepting, 'the listener to close');
  assert.equal(await canConnect(port), false, 'listener is closed');

  await short.hangUp();
  await waitFor(() => server.activeCalls === 1, 'the short call to end');

  const end = await longEnd;
  assert.notEqual(end.by, 'client');
  assert.ok(longEndedAt - started >= timeoutMs - 20, `a call in flight was cut after ${longEndedAt - started} ms`);
  assert.equal(goodbyes.length, 1, 'only the call still up at the timeout gets a goodbye');
  assert.equal(goodbyes[0]!.id, long.uuid);
  assert.ok(goodbyes[0]!.atMs >= timeoutMs - 20, `goodbye at ${goodbyes[0]!.atMs} ms`);

  await waitFor(() => exits.length > 0, 'the exit');
  assert.deepEqual(exits, [0]);
  assert.equal(flushed, true);
  assert.equal(server.activeCalls, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/healthz`), 'ops http is closed at the end');
  drain.uninstall();
});

test('drain exits as soon as the last call ends, without waiting for the timeout', async (t) => {
  const { server, port } = await startServer(t);
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
  await waitFor(() => server.activeCalls === 1, 'the call');
  const started = Date.now();
  signals.emit('SIGINT');
  await waitFor(() => !server.accepting, 'the drain to start');
  await call.hangUp();
  await waitFor(() => exits.length > 0, 'the exit');
  assert.deepEqual(exits, [0]);
  assert.deepEqual(goodbyes, []);
  assert.ok(Date.now() - started < 8_000, 'exited before the 10 s drain timeout');
  drain.uninstall();
});

test('a second signal exits at once with a non-zero code', async (t) => {
  const { server, port } = await startServer(t);
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
  await waitFor(() => server.activeCalls === 1, 'the call');
  signals.emit('SIGTERM');
  await waitFor(() => !server.accepting, 'the drain to start');
  assert.deepEqual(exits, []);
  signals.emit('SIGTERM');
  assert.deepEqual(exits, [1]);
  assert.equal(call.active, true, 'the forced exit is left to the process; calls were not touched');

  await call.hangUp();
  await waitFor(() => exits.length === 2, 'the drain to finish');
  drain.uninstall();
  assert.equal(signals.listenerCount('SIGTERM'), 0);
});

test('a goodbye that hangs is cut off and the call is closed anyway', async (t) => {
  const { server, port } = await startServer(t);
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
  await waitFor(() => server.activeCalls === 1, 'the call');
  const started = Date.now();
  await within(drain.drain('test'), 'the drain past a goodbye that hangs');
  assert.deepEqual(exits, [0]);
  await waitFor(() => !call.active, 'the call to be closed');
  assert.ok(Date.now() - started < 5_000, `drain took ${Date.now() - started} ms`);
  drain.uninstall();
});

/** Starts a real process wired like main.ts: AudioSocket server, metrics, recorder, startOps. */
function spawnWired(env: Record<string, string>) {
  const root = new URL('..', import.meta.url).href;
  const script = `
    import { createAudioSocketServer } from '${root}src/audiosocket/server.js';
    import { EnvReader } from '${root}src/config/env-reader.js';
    import { createLogger } from '${root}src/logger.js';
    import { readOpsConfig } from '${root}src/metrics/config.js';
    import { createMetrics } from '${root}src/metrics/metrics.js';
    import { createCallRecorder } from '${root}src/ops/call-record.js';
    import { startOps } from '${root}src/ops/ops.js';
    const reader = new EnvReader(${JSON.stringify(env)});
    const config = readOpsConfig(reader);
    reader.finish();
    const log = createLogger('info');
    const metrics = createMetrics();
    const recorder = createCallRecorder(config.callRecord, log);
    const server = createAudioSocketServer({ config: { host: '127.0.0.1', port: 0 }, log, onCall: () => {} });
    server.on('callEnd', (call, reason) => {
      metrics.callEnded(reason);
      recorder.record({ callId: call.id, startedAt: call.startedAt, outcome: reason, turns: [] });
    });
    const { port } = await server.listen();
    const ops = await startOps({ config, log, server, metrics, recorder });
    log.info({ port, httpPort: ops.httpPort }, 'test process ready');
  `;
  return watch(spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }), 'test process ready');
}

/** Starts `src/main.ts` with only the given environment (plus PATH). */
function spawnMain(env: Record<string, string>) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  return watch(spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }), 'listening');
}

/** Collects a child's JSON log lines; `ready` resolves with the ports of its `readyMsg` line. */
function watch(child: ChildProcessByStdio<null, Readable, Readable>, readyMsg: string) {
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    buffered += c.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // The ready line is the only way the child can tell its ports.
  const ready = waitFor(() => {
    if (child.exitCode !== null) throw new Error(`process did not start: ${stderr}`);
    const line = lines.find((l) => l.msg === readyMsg);
    return line && { port: line.port as number, httpPort: line.httpPort as number | undefined };
  }, 'the process to start', 90_000);
  return { child, lines, exited, ready };
}

/**
 * Starts a process on a port that was free a moment ago; another process on this busy machine may
 * take it first, so a start that fails with EADDRINUSE is tried again on another one.
 */
async function onFreePort(start: (httpPort: string) => ReturnType<typeof watch>) {
  for (let attempt = 1; ; attempt++) {
    const proc = start(String(await freePort()));
    try {
      await proc.ready;
      return proc;
    } catch (err) {
      proc.child.kill('SIGKILL');
      if (attempt === 5 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

test('a real process drains on SIGTERM: calls finish, the rest are ended, webhooks flushed, exit 0', async (t) => {
  const received: string[] = [];
  const hook = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.after(() => hook.close());
  const hookPort = (hook.address() as AddressInfo).port;

  const proc = await onFreePort((httpPort) =>
    spawnWired({
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: httpPort,
      DRAIN_TIMEOUT_MS: '1000',
      CALL_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/calls`,
    }),
  );
  t.after(() => proc.child.kill('SIGKILL'));
  const { port, httpPort } = await proc.ready;
  assert.ok(httpPort !== undefined);

  const call = await SimulatedCall.connect({ port, sampleRate: 16000 });
  const activeCalls = async () => Number(/^voicebot_active_calls (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text())?.[1]);
  await waitFor(async () => (await activeCalls()) === 1, '/metrics of the process to count the call');
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);

  let callEndedAt = 0;
  const callEnd = call.closed.then(() => (callEndedAt = Date.now()));
  const started = Date.now();
  proc.child.kill('SIGTERM');
  await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 503, '/readyz to turn 503');
  assert.equal(await canConnect(port), false, 'the AudioSocket listener is closed');

  await callEnd;
  assert.ok(callEndedAt - started >= 980, `the call was cut after ${callEndedAt - started} ms, before DRAIN_TIMEOUT_MS`);
  const code = await proc.exited;
  assert.equal(code, 0);
  assert.equal(received.length, 1, 'the call record reached the webhook before exit');
  assert.equal((JSON.parse(received[0]!) as { callId: string }).callId, call.uuid);
  assert.ok(proc.lines.some((l) => (l.record as { callId?: string } | undefined)?.callId === call.uuid), 'the call record is logged');
  // What is under test is the log itself: the drain's last line reaches stdout before the exit.
  assert.ok(proc.lines.some((l) => l.msg === 'drain finished'), 'logs are flushed before exit');
});

test('src/main.ts drains on SIGTERM and exits at once, non-zero, on a second one', async (t) => {
  const proc = await onFreePort((httpPort) =>
    spawnMain({
      LOG_LEVEL: 'info',
      PIPELINE: 'echo',
      AUDIOSOCKET_HOST: '127.0.0.1',
      AUDIOSOCKET_PORT: '0',
      HTTP_PORT: httpPort,
      DRAIN_TIMEOUT_MS: '30000',
    }),
  );
  t.after(() => proc.child.kill('SIGKILL'));
  const { port, httpPort } = await proc.ready;
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);
  const call = await SimulatedCall.connect({ port, sampleRate: 16000 });
  t.after(() => call.hangUp());
  await waitFor(() => call.received.length > 0, 'frames from the process');

  proc.child.kill('SIGTERM');
  await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 503, '/readyz to turn 503');
  assert.equal(await canConnect(port), false, 'the AudioSocket listener is closed');
  // The call must still be up a while into the drain: frames keep coming.
  const frames = call.received.length;
  await waitFor(() => call.received.length >= frames + 10, 'frames during the drain');
  assert.equal(call.active, true, 'a 30 s drain does not cut the call');

  const started = Date.now();
  proc.child.kill('SIGTERM');
  const code = await within(proc.exited, 'the exit on the second signal');
  assert.equal(code, 1);
  assert.ok(Date.now() - started < 10_000, 'the second signal does not wait for the drain');
});

test('src/main.ts ends a call still up at the drain timeout with its goodbye and exits 0', async (t) => {
  const proc = spawnMain({
    LOG_LEVEL: 'info',
    PIPELINE: 'echo',
    AUDIOSOCKET_HOST: '127.0.0.1',
    AUDIOSOCKET_PORT: '0',
    HTTP_PORT: '0',
    DRAIN_TIMEOUT_MS: '500',
  });
  t.after(() => proc.child.kill('SIGKILL'));
  const { port } = await proc.ready;
  const call = await SimulatedCall.connect({ port, sampleRate: 16000 });
  t.after(() => call.hangUp());
  await waitFor(() => call.received.length > 0, 'frames from the process');
  const signalledAt = call.nowMs();
  proc.child.kill('SIGTERM');
  const end = await within(call.closed, 'the drain to end the call');
  assert.equal(end.by, 'server-hangup', 'the server hung up the call');
  assert.ok(end.atMs - signalledAt >= 480, `the call was ended ${Math.round(end.atMs - signalledAt)} ms into a 500 ms drain`);
  assert.equal(await within(proc.exited, 'the exit'), 0);
  assert.ok(proc.lines.some((l) => l.msg === 'drain finished'), 'logs are flushed before exit');
});
