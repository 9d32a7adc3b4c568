/** Runs the real entry (`src/main.ts`, echo pipeline) with WORKERS=N for the transport benchmark; usage is read from /proc and /metrics. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ServerChild } from './child.js';
import { freePort, procUsage, REPO_DIR } from './latency-procs.js';
import { serverEntryArgs } from './server-entry.js';
import { lateMs, PROM_CLIENT_SAMPLE_MS } from './loop-lag.js';

/** The process and every process it started (the workers). */
function tree(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/)) {
        if (child !== '') out.push(...tree(Number(child)));
      }
    }
  } catch {
    // Gone meanwhile.
  }
  return out;
}

async function scrape(httpPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const values: Record<string, number> = {};
  for (const m of text.matchAll(/^([a-z0-9_]+) ([0-9.eE+-]+)$/gm)) values[m[1]!] = Number(m[2]);
  return values;
}

/** Starts `src/main.ts` with PIPELINE=echo and `workers` processes and waits until it listens. */
export async function startMainChild(workers: number, nodeFlags: string[] = []): Promise<ServerChild> {
  const httpPort = await freePort();
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, ...(await serverEntryArgs())], {
    cwd: REPO_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      WORKERS: String(workers),
      PIPELINE: 'echo',
      BOT_LANGUAGE: 'en',
      LOG_LEVEL: 'info',
      AUDIOSOCKET_HOST: '127.0.0.1',
      AUDIOSOCKET_PORT: '0',
      AUDIOSOCKET_MAX_CALLS: '100000',
      AUDIOSOCKET_IDLE_TIMEOUT_MS: '120000',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      DRAIN_TIMEOUT_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('main did not log `listening` within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`main exited with ${String(code)} before listening`)));
    lines.on('line', (line) => {
      if (!line.includes('"listening"')) return;
      const entry = JSON.parse(line) as { msg: string; port?: number };
      if (entry.msg === 'listening' && entry.port !== undefined) {
        clearTimeout(timer);
        resolve(entry.port);
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    port,
    pid: child.pid!,
    async usage() {
      const atMs = performance.timeOrigin + performance.now();
      let cpuMs = 0;
      let rssBytes = 0;
      for (const pid of tree(child.pid!)) {
        const u = procUsage(pid);
        cpuMs += u?.cpuMs ?? 0;
        rssBytes += u?.rssBytes ?? 0;
      }
      const m = await scrape(httpPort);
      return {
        type: 'usage',
        cpuUserUs: cpuMs * 1000,
        cpuSystemUs: 0,
        atMs,
        rssBytes,
        // Averaged over the workers by the aggregation; prom-client resets it at each scrape.
        loopP99Ms: lateMs((m.nodejs_eventloop_lag_p99_seconds ?? NaN) * 1e9, PROM_CLIENT_SAMPLE_MS),
        loopMaxMs: lateMs((m.nodejs_eventloop_lag_max_seconds ?? NaN) * 1e9, PROM_CLIENT_SAMPLE_MS),
        stats: {
          underruns: m.voicebot_playout_underruns_total ?? 0,
          reanchors: m.voicebot_playout_reanchors_total ?? 0,
          backpressureSkips: m.voicebot_playout_backpressure_skips_total ?? 0,
          activeCalls: m.voicebot_active_calls ?? 0,
        },
      };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
