/** The latency benchmark's child processes: all provider fakes in one, the real server entry in another. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FakesConfig, FakesLag, FakesReady } from './fakes-child.js';
import { lateMs, PROM_CLIENT_SAMPLE_MS } from './loop-lag.js';
import { serverEntryArgs } from './server-entry.js';

/** The repository root (bench/lib/../..). */
export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU time and resident memory of a process, read from /proc. */
export interface ProcUsage {
  cpuMs: number;
  rssBytes: number;
  atMs: number;
}

/** Reads a process's CPU time (user + system) and RSS from /proc; undefined when it is gone. */
export function procUsage(pid: number): ProcUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuMs: (ticks * 1000) / CLOCK_TICKS, rssBytes: rssKb * 1024, atMs: performance.now() };
  } catch {
    return undefined;
  }
}

/** CPU of a process and every process below it (a cluster primary and its workers); RSS summed likewise. */
export function procTreeUsage(pid: number): ProcUsage | undefined {
  const own = procUsage(pid);
  if (own === undefined) return undefined;
  for (const child of childPids(pid)) {
    const usage = procTreeUsage(child);
    if (usage === undefined) continue;
    own.cpuMs += usage.cpuMs;
    own.rssBytes += usage.rssBytes;
  }
  return own;
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter((p) => p !== '').map(Number),
    );
  } catch {
    return [];
  }
}

/** A running child process with a graceful stop. */
interface Child {
  pid: number;
  stop(): Promise<void>;
}

/** The fakes child: provider addresses for the server's environment. */
export interface FakesChild extends Child {
  ready: FakesReady;
  /** Event-loop delay p99 and max (ms) of the fakes since the previous call. */
  loopLag(): Promise<{ p99Ms: number; maxMs: number } | undefined>;
}

/** Forks bench/lib/fakes-child.ts with `config` and waits until every fake listens. */
export async function startFakesChild(config: FakesConfig): Promise<FakesChild> {
  const child = fork(new URL('./fakes-child.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, FAKES_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<FakesReady>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`fakes child exited with ${String(code)} before it was ready`)));
    child.once('message', (m: FakesReady) => (m?.type === 'ready' ? resolve(m) : reject(new Error('fakes child: unexpected first message'))));
  });
  child.removeAllListeners('exit');
  const loopLag = () =>
    new Promise<{ p99Ms: number; maxMs: number } | undefined>((resolve) => {
      const timer = setTimeout(() => done(undefined), 5000);
      const onMessage = (m: FakesLag) => m?.type === 'lag' && done(m);
      const done = (m: FakesLag | undefined) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m && { p99Ms: m.p99Ms, maxMs: m.maxMs });
      };
      child.on('message', onMessage);
      child.send({ type: 'lag' });
    });
  return { pid: child.pid!, ready, loopLag, stop: () => stopChild(child, () => child.disconnect()) };
}

/** The server child: its AudioSocket port and every JSON log line it has written. */
export interface ServerProc extends Child {
  port: number;
  logs: Record<string, any>[];
  /** Event-loop delay p99 and max (ms) since the previous call, from the server's own /metrics. */
  loopLag(): Promise<{ p99Ms: number; maxMs: number } | undefined>;
}

/** A port free at the moment on 127.0.0.1 (HTTP_PORT=0 would turn the metrics server off). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function scrapeLoopLag(httpPort: number): Promise<{ p99Ms: number; maxMs: number } | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const value = (name: string) => Number(new RegExp(`^${name}\\s+([0-9.eE+-]+)`, 'm').exec(text)?.[1]);
    return {
      p99Ms: lateMs(value('nodejs_eventloop_lag_p99_seconds') * 1e9, PROM_CLIENT_SAMPLE_MS),
      maxMs: lateMs(value('nodejs_eventloop_lag_max_seconds') * 1e9, PROM_CLIENT_SAMPLE_MS),
    };
  } catch {
    return undefined;
  }
}

/** Runs the real entry (built or from source: `serverEntryArgs`, optionally CPU-profiled) against the fakes and waits for `listening`. */
export async function startServerProc(fakes: FakesReady, extraEnv: Record<string, string> = {}, profileDir?: string, nodeFlags: readonly string[] = []): Promise<ServerProc> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    AUDIOSOCKET_HOST: '127.0.0.1',
    AUDIOSOCKET_PORT: '0',
    // The metrics server gives the server's own event-loop lag (prom-client resets it on every scrape).
    HTTP_PORT: String(await freePort()),
    ASR_PROVIDER: 'yandex',
    TTS_PROVIDER: 'yandex',
    YANDEX_API_KEY: 'x',
    YANDEX_GRPC_TLS: 'false',
    YANDEX_STT_ENDPOINT: fakes.sttEndpoint,
    YANDEX_TTS_ENDPOINT: fakes.ttsEndpoint,
    YANDEX_TTS_HTTP_URL: fakes.ttsHttpUrl,
    OPENAI_BASE_URL: fakes.llmBaseUrl,
    OPENAI_API_KEY: 'x',
    LLM_MODEL: 'bench',
    BOT_LANGUAGE: 'en',
    GREETING_TEXT: 'Hello.',
    LOG_LEVEL: 'info',
    AUDIOSOCKET_MAX_CALLS: '1000',
    ...extraEnv,
  };
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const child = spawn(process.execPath, [...nodeFlags, ...profile, ...(await serverEntryArgs())], {
    cwd: REPO_DIR,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Record<string, any>[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not log `listening` within 20 s')), 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${String(code)} before listening`));
    });
    lines.on('line', (line) => {
      let entry: Record<string, any>;
      try {
        entry = JSON.parse(line) as Record<string, any>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'listening' && typeof entry.port === 'number') {
        clearTimeout(timer);
        resolve(entry.port);
      }
    });
  });
  child.removeAllListeners('exit');
  const httpPort = Number(env.HTTP_PORT);
  return { pid: child.pid!, port, logs, loopLag: () => scrapeLoopLag(httpPort), stop: () => stopChild(child, () => child.kill('SIGTERM')) };
}

async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  try {
    ask();
  } catch {
    // Already disconnected: the kill below ends it.
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
