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
  await waitFor(() => server.activeCalls === 2, 2_000);
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
  await waitFor(() => !server.accepting, 1_000);
  assert.equal(await canConnect(port), false, 'listener is closed');

  await short.hangUp();
  await waitFor(() => server.activeCalls === 1, 2_000);

  const end = await longEnd;
  assert.notEqual(end.by, 'client');
  assert.ok(longEndedAt - started >= timeoutMs - 20, `a call in flight was cut after ${longEndedAt - started} ms`);
  assert.equal(goodbyes.length, 1, 'only the call still up at the timeout gets a goodbye');
  assert.equal(goodbyes[0]!.id, long.uuid);
  assert.ok(goodbyes[0]!.atMs >= timeoutMs - 20, `goodbye at ${goodbyes[0]!.atMs} ms`);

  await waitFor(() => exits.length > 0, 3_000);
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
  await waitFor(() => server.activeCalls === 1, 2_000);
  const started = Date.now();
  await drain.drain('test');
  assert.deepEqual(exits, [0]);
  assert.equal(call.active, false);
  assert.ok(Date.now() - started < 2_500, `drain took ${Date.now() - started} ms`);
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
  const ready = (async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const line = lines.find((l) => l.msg === readyMsg);
      if (line) return { port: line.port as number, httpPort: line.httpPort as number | undefined };
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`process did not start: ${stderr}`);
      await sleep(20);
    }
  })();
  return { child, lines, exited, ready };
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

  const proc = spawnWired({
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(await freePort()),
    DRAIN_TIMEOUT_MS: '1000',
    CALL_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/calls`,
  });
  t.after(() => proc.child.kill('SIGKILL'));
  const { port, httpPort } = await proc.ready;
  assert.ok(httpPort !== undefined);

  const call = await SimulatedCall.connect({ port, sampleRate: 16000 });
  let active = 0;
  for (let i = 0; i < 100 && active !== 1; i++) {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    active = Number(/^voicebot_active_calls (\d+)$/m.exec(text)?.[1]);
    if (active !== 1) await sleep(20);
  }
  assert.equal(active, 1, '/metrics of the process counts the call');
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);

  let callEndedAt = 0;
  const callEnd = call.closed.then(() => (callEndedAt = Date.now()));
  const started = Date.now();
  proc.child.kill('SIGTERM');
  let readyz = 200;
  const deadline = Date.now() + 5_000;
  while (readyz === 200 && Date.now() < deadline) {
    readyz = (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status;
    if (readyz === 200) await sleep(10);
  }
  assert.equal(readyz, 503);
  assert.equal(await canConnect(port), false, 'the AudioSocket listener is closed');

  await callEnd;
  assert.ok(callEndedAt - started >= 980, `the call was cut after ${callEndedAt - started} ms, before DRAIN_TIMEOUT_MS`);
  const code = await proc.exited;
  assert.equal(code, 0);
  assert.equal(received.length, 1, 'the call record reached the webhook before exit');
  assert.equal((JSON.parse(received[0]!) as { callId: string }).callId, call.uuid);
  const messages = proc.lines.map((l) => l.msg);
  assert.ok(messages.includes('call record'));
  assert.ok(messages.includes('drain finished'), 'logs are flushed before exit');
});

test('src/main.ts drains on SIGTERM and exits at once, non-zero, on a second one', async (t) => {
  const proc = spawnMain({
    LOG_LEVEL: 'info',
    PIPELINE: 'echo',
    AUDIOSOCKET_HOST: '127.0.0.1',
    AUDIOSOCKET_PORT: '0',
    HTTP_PORT: String(await freePort()),
    DRAIN_TIMEOUT_MS: '30000',
  });
  t.after(() => proc.child.kill('SIGKILL'));
  const { port, httpPort } = await proc.ready;
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);
  const call = await SimulatedCall.connect({ port, sampleRate: 16000 });
  t.after(() => call.hangUp());
  await sleep(200);

  proc.child.kill('SIGTERM');
  await waitFor(() => proc.lines.some((l) => l.msg === 'drain started'), 5_000);
  const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(await canConnect(port), false, 'the AudioSocket listener is closed');
  await sleep(300);
  assert.equal(call.active, true, 'a 30 s drain does not cut the call');

  const started = Date.now();
  proc.child.kill('SIGTERM');
  const code = await proc.exited;
  assert.equal(code, 1);
  assert.ok(Date.now() - started < 5_000);
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
  await sleep(200);
  proc.child.kill('SIGTERM');
  const end = await call.closed;
  assert.notEqual(end.by, 'client');
  assert.equal(await proc.exited, 0);
  const messages = proc.lines.map((l) => l.msg);
  assert.ok(messages.includes('drain timeout, ending remaining calls'));
  assert.ok(messages.includes('drain finished'), 'logs are flushed before exit');
});
