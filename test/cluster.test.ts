import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SimulatedCall } from '../src/sim/simulated-call.js';

const root = fileURLToPath(new URL('..', import.meta.url));

async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not in ${ms} ms`);
    await sleep(20);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The worker processes of a primary: its children running the entry. */
function workerPids(primary: number): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${primary}/task`)) {
    for (const pid of readFileSync(`/proc/${primary}/task/${task}/children`, 'utf8').trim().split(/\s+/)) {
      if (pid === '') continue;
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('main.ts')) pids.push(Number(pid));
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return pids.sort();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function scrape(httpPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const values: Record<string, number> = {};
  for (const m of text.matchAll(/^(voicebot_[a-z_]+) ([0-9.e+-]+)$/gm)) values[m[1]!] = Number(m[2]);
  return values;
}

const readyz = async (httpPort: number): Promise<number> => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status;
const answered = (call: SimulatedCall): boolean => call.received.some((f) => f.voiced);

test('WORKERS=2: calls on both workers, one /metrics, a crashed worker restarted, SIGTERM drains all and exits 0', async (t) => {
  const httpPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      WORKERS: '2',
      PIPELINE: 'echo',
      BOT_LANGUAGE: 'en',
      LOG_LEVEL: 'info',
      AUDIOSOCKET_HOST: '127.0.0.1',
      AUDIOSOCKET_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      DRAIN_TIMEOUT_MS: '500',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    const parts = (buffered + c.toString()).split('\n');
    buffered = parts.pop()!;
    for (const line of parts) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const calls: SimulatedCall[] = [];
  t.after(async () => {
    for (const call of calls) if (call.active) await call.hangUp();
    child.kill('SIGKILL');
  });

  const started = await waitFor(`start-up (${stderr})`, () => lines.find((l) => l.msg === 'listening' && l.workers === 2), 60_000);
  const port = started.port as number;
  assert.equal(await readyz(httpPort), 200);
  const workers = workerPids(child.pid!);
  assert.equal(workers.length, 2);

  const pair = await Promise.all([0, 1].map(() => SimulatedCall.connect({ port, sampleRate: 16000 })));
  calls.push(...pair);
  await waitFor('both calls greeted', () => pair.every(answered));
  const metrics = await waitFor('both calls in /metrics', async () => {
    const m = await scrape(httpPort);
    return m.voicebot_active_calls === 2 ? m : undefined;
  });
  assert.equal(metrics.voicebot_connections_accepted_total, 2);
  assert.ok(metrics.voicebot_frames_out_total! > 0);
  assert.equal(metrics.voicebot_workers, 2);

  // A crash ends the calls of that worker only: so the two calls were on different workers.
  process.kill(workers[0]!, 'SIGKILL');
  const [first] = await Promise.race(pair.map((call, i) => call.closed.then(() => [i])));
  const survivor = pair[1 - first!]!;
  const framesBefore = survivor.arrivalsMs.length;
  await waitFor('the other call goes on', () => survivor.arrivalsMs.length >= framesBefore + 10);
  assert.equal(survivor.active, true);

  const restarted = await waitFor('a worker started again', () => {
    const now = workerPids(child.pid!);
    return now.length === 2 && !now.includes(workers[0]!) ? now : undefined;
  });
  await waitFor('/readyz 200 again', async () => (await readyz(httpPort)) === 200);
  const after = await scrape(httpPort);
  assert.equal(after.voicebot_worker_restarts_total, 1);
  assert.equal(after.voicebot_active_calls, 1);
  // Round-robin: of two new calls one lands on the new worker.
  const more = await Promise.all([0, 1].map(() => SimulatedCall.connect({ port, sampleRate: 16000 })));
  calls.push(...more);
  await waitFor('calls after the restart greeted', () => more.every(answered));

  const signalled = Date.now();
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.ok(Date.now() - signalled < 5_000, `exit took ${Date.now() - signalled} ms`);
  await Promise.all([survivor, ...more].map((call) => call.closed));
  for (const pid of restarted) assert.equal(alive(pid), false, `worker ${pid} is gone`);
});
