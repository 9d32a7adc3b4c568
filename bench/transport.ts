/**
 * Transport benchmark: received-frame jitter, lost/early frames, and server CPU and RSS per call at
 * several concurrency levels, for the echo pipeline beside a bare Node TCP pacer run the same way,
 * for the real entry (`src/main.ts`, echo pipeline) with each WORKERS count, and for real
 * conversation calls (`conversation`: recognizer, model and synthesizer fakes in another process),
 * and the same conversation calls with callers who never speak (`listening`: the per-frame media
 * path alone, no turns).
 *
 * Flags: --levels 100,250,500  --seconds 10 (steady state per level)  --warmup 2
 *        --turn-warmup 15 (warm-up of the conversation and listening rows: the first turns of a
 *        call run code the JIT has not compiled yet, a cost a long-running server pays once)
 *        --targets baseline,echo,main,conversation,listening  --workers 1,2 (WORKERS of the `main` rows)
 *        --calls-per-worker 125  --nice 10 (caller threads yield to the server)
 *        --profile DIR (write a V8 CPU profile of each server child there)
 *        --node-flags "--single-threaded-gc" (Node flags for both server children)
 *        --entry build|source (the real entry from the tsc build, as the container runs it, or through tsx)
 */
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { resample } from '../src/audio/resample.js';
import { readWav } from '../src/audio/wav.js';
import { percentile } from '../src/sim/stats.js';
import { startServerChild, type ServerChild } from './lib/child.js';
import type { ClientsWorkerData, FromWorker, ToWorker } from './lib/clients-worker.js';
import { startConversationChild } from './lib/conversation-child.js';
import { startMainChild } from './lib/main-child.js';
import { entryOfArgs } from './lib/server-entry.js';

type Target = 'baseline' | 'echo' | 'main' | 'conversation' | 'listening';

/** One row kind of the table: `baseline`, `echo`, or `main w<N>` for the real entry with WORKERS=N. */
interface Row {
  label: string;
  /** The callers send line silence only. */
  silent?: boolean;
  /** Seconds before the row is measured, when not `--warmup`: the conversation rows wait for `--turn-warmup`. */
  warmup?: number;
  start(profileDir: string | undefined, nodeFlags: string[]): Promise<ServerChild>;
}

/** One measured level for one target. */
export interface TransportResult {
  target: string;
  calls: number;
  connected: number;
  failures: number;
  frames: number;
  expectedFrames: number;
  p50: number;
  p99: number;
  max: number;
  early: number;
  late: number;
  lost: number;
  endedEarly: number;
  cpuPerCallPct: number;
  cpuTotalPct: number;
  rssMb: number;
  clientLoopP99Ms: number;
  /** CPU of the benchmark process (all caller threads), % of one core. */
  clientCpuPct: number;
  serverLoopP99Ms: number;
  serverLoopMaxMs: number;
  serverStats: Record<string, unknown> | undefined;
}

/** Worker threads do not inherit the TypeScript loader, so each registers tsx before its entry. */
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./lib/clients-worker.ts', import.meta.url).href)}); })`;

const now = (): number => performance.timeOrigin + performance.now();

function options() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      levels: { type: 'string', default: '100,250,500' },
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      'turn-warmup': { type: 'string', default: '15' },
      targets: { type: 'string', default: 'baseline,echo,main' },
      workers: { type: 'string', default: '1,2' },
      'calls-per-worker': { type: 'string', default: '125' },
      nice: { type: 'string', default: '10' },
      profile: { type: 'string' },
      'node-flags': { type: 'string', default: '' },
    },
    strict: false,
    allowPositionals: true,
  });
  const levels = String(values.levels).split(',').map(Number);
  const targets = String(values.targets).split(',') as Target[];
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const turnWarmup = Number(values['turn-warmup']);
  const perWorker = Number(values['calls-per-worker']);
  const nice = Number(values.nice);
  if (levels.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--levels must be positive integers, got ${String(values.levels)}`);
  if (targets.some((t) => !['baseline', 'echo', 'main', 'conversation', 'listening'].includes(t))) {
    throw new Error(`--targets takes baseline, echo, main, conversation and/or listening, got ${String(values.targets)}`);
  }
  const workers = String(values.workers).split(',').map(Number);
  if (workers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers must be positive integers, got ${String(values.workers)}`);
  if (!(seconds > 0) || !(warmup >= 0) || !(turnWarmup >= 0) || !(perWorker >= 1)) {
    throw new Error('--seconds, --warmup, --turn-warmup and --calls-per-worker must be positive numbers');
  }
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new Error('--nice must be an integer from 0 to 19');
  const profileDir = typeof values.profile === 'string' ? values.profile : undefined;
  const nodeFlags = String(values['node-flags']).split(/\s+/).filter((f) => f !== '');
  const rows: Row[] = targets.flatMap((target): Row[] => {
    if (target === 'main') return workers.map((n) => ({ label: `main w${n}`, start: (_dir, flags) => startMainChild(n, flags) }));
    if (target === 'conversation' || target === 'listening') {
      // Callers who never speak would hear the inactivity prompt and be hung up: the listening row has no turns at all.
      const env: Record<string, string> = target === 'listening' ? { INACTIVITY_MS: '3600000' } : {};
      const rowWarmup = Math.max(warmup, turnWarmup);
      return [{ label: target, silent: target === 'listening', warmup: rowWarmup, start: (dir, flags) => startConversationChild(dir, flags, env) }];
    }
    return [{ label: target, start: (dir, flags) => startServerChild(target === 'echo' ? 'echo' : 'pacer', dir, flags) }];
  });
  return { levels, rows, seconds, warmup, turnWarmup, perWorker, nice, profileDir, nodeFlags };
}

async function loadUtterance(): Promise<Uint8Array> {
  const shared = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'audio', 'en-wait-8k.wav');
  try {
    const wav = await readWav(shared);
    return wav.sampleRate === 8000 ? wav.pcm : resample(wav.pcm, wav.sampleRate, 8000);
  } catch {
    // Without the shared fixtures the callers send line silence only.
    return new Uint8Array(0);
  }
}

/** Runs one level against one target in a fresh child process. */
export async function measure(row: Row, calls: number, opts: { seconds: number; warmup: number; perWorker: number; nice: number; profileDir?: string | undefined; nodeFlags?: string[]; utterance: Uint8Array }): Promise<TransportResult> {
  const target = row.label;
  const child = await row.start(opts.profileDir, opts.nodeFlags ?? []);
  const workers: Worker[] = [];
  try {
    const nWorkers = Math.ceil(calls / opts.perWorker);
    const connected: Promise<Extract<FromWorker, { type: 'connected' }>>[] = [];
    for (let w = 0; w < nWorkers; w++) {
      const share = Math.floor(calls / nWorkers) + (w < calls % nWorkers ? 1 : 0);
      const data: ClientsWorkerData = { port: child.port, calls: share, utterance: row.silent ? new Uint8Array(0) : opts.utterance, repeatMs: 7000, nice: opts.nice };
      const worker = new Worker(WORKER_BOOT, { eval: true, workerData: data });
      workers.push(worker);
      connected.push(
        new Promise((resolve, reject) => {
          worker.once('error', reject);
          worker.once('message', resolve);
        }),
      );
    }
    const ready = await Promise.all(connected);
    await sleep((row.warmup ?? opts.warmup) * 1000);
    const u0 = await child.usage();
    const c0 = process.cpuUsage();
    const fromMs = now();
    const toMs = fromMs + opts.seconds * 1000;
    const results = workers.map(
      (worker) =>
        new Promise<Extract<FromWorker, { type: 'result' }>>((resolve, reject) => {
          worker.once('error', reject);
          worker.on('message', (m: FromWorker) => m.type === 'result' && resolve(m));
          worker.postMessage({ type: 'measure', fromMs, toMs } satisfies ToWorker);
        }),
    );
    await sleep(Math.max(0, toMs - now()));
    const u1 = await child.usage();
    const c1 = process.cpuUsage(c0);
    const parts = await Promise.all(results);

    const connectedCalls = ready.reduce((n, r) => n + r.calls, 0);
    const deviations = new Float64Array(parts.reduce((n, p) => n + p.deviations.length, 0));
    let offset = 0;
    for (const p of parts) {
      deviations.set(p.deviations, offset);
      offset += p.deviations.length;
    }
    const cpuUs = u1.cpuUserUs + u1.cpuSystemUs - (u0.cpuUserUs + u0.cpuSystemUs);
    const cpuTotalPct = (cpuUs / 1000 / (u1.atMs - u0.atMs)) * 100;
    const sum = (f: (p: (typeof parts)[number]) => number): number => parts.reduce((n, p) => n + f(p), 0);
    return {
      target,
      calls,
      connected: connectedCalls,
      failures: ready.reduce((n, r) => n + r.failures.length, 0),
      frames: sum((p) => p.frames),
      expectedFrames: Math.round((connectedCalls * opts.seconds * 1000) / 20),
      p50: percentile(deviations, 50),
      p99: percentile(deviations, 99),
      max: percentile(deviations, 100),
      early: sum((p) => p.early),
      late: sum((p) => p.late),
      lost: sum((p) => p.lost),
      endedEarly: sum((p) => p.callsEndedEarly),
      cpuPerCallPct: cpuTotalPct / Math.max(1, connectedCalls),
      cpuTotalPct,
      rssMb: u1.rssBytes / 1024 / 1024,
      clientLoopP99Ms: Math.max(...parts.map((p) => p.loopDelayP99Ms)),
      serverLoopP99Ms: u1.loopP99Ms,
      serverLoopMaxMs: u1.loopMaxMs,
      clientCpuPct: ((c1.user + c1.system) / 1000 / (toMs - fromMs)) * 100,
      serverStats: u1.stats,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    await child.stop();
  }
}

function table(results: TransportResult[]): string {
  const header = ['calls', 'target', 'connected', 'frames/expected', 'p50 ms', 'p99 ms', 'max ms', 'early', 'late', 'lost', 'cpu %/call', 'cpu % total', 'rss MB', 'server lag p99/max ms', 'client cpu %', 'client lag p99 ms'];
  const rows = results.map((r) => [
    String(r.calls),
    r.target,
    `${r.connected}${r.failures ? ` (${r.failures} failed)` : ''}`,
    `${r.frames}/${r.expectedFrames}`,
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.max.toFixed(1),
    String(r.early),
    String(r.late),
    String(r.lost),
    r.cpuPerCallPct.toFixed(3),
    r.cpuTotalPct.toFixed(1),
    r.rssMb.toFixed(0),
    `${r.serverLoopP99Ms.toFixed(1)}/${r.serverLoopMaxMs.toFixed(0)}`,
    r.clientCpuPct.toFixed(0),
    r.clientLoopP99Ms.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) => row.map((c, i) => c.padStart(widths[i]!)).join('  ')).join('\n');
}

/** Runs every level for every target and prints the table, ratios and the verdict. */
export async function run(): Promise<void> {
  const opts = options();
  const utterance = await loadUtterance();
  process.stdout.write(
    `transport: levels ${opts.levels.join(', ')}; ${opts.seconds} s steady state after ${opts.warmup} s warm-up ` +
      `(${Math.max(opts.warmup, opts.turnWarmup)} s for conversation and listening, once every call's first turns have been compiled); ` +
      `server in a child process (the real entry ${entryOfArgs() === 'build' ? 'built with tsc' : 'through tsx'}), callers in worker threads (${opts.perWorker} per worker, nice ${opts.nice}); ` +
      `${opts.nodeFlags.length > 0 ? `server flags ${opts.nodeFlags.join(' ')}; ` : ''}${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)}\n`,
  );
  const results: TransportResult[] = [];
  for (const calls of opts.levels) {
    for (const row of opts.rows) {
      const target = row.label;
      const r = await measure(row, calls, { ...opts, utterance });
      results.push(r);
      process.stdout.write(
        `  ${calls} ${target}: p99 ${r.p99.toFixed(2)} ms, lost ${r.lost}, early ${r.early}, cpu ${r.cpuPerCallPct.toFixed(3)} %/call, rss ${r.rssMb.toFixed(0)} MB\n`,
      );
    }
  }
  process.stdout.write(`\n${table(results)}\n(load average at the end ${loadavg()[0]!.toFixed(2)}: other work on the machine shows up as jitter in both rows)\n`);
  for (const calls of opts.levels) {
    const base = results.find((r) => r.calls === calls && r.target === 'baseline');
    const echo = results.find((r) => r.calls === calls && r.target === 'echo');
    if (base && echo) {
      process.stdout.write(
        `${calls} calls, echo / baseline: p99 jitter ×${(echo.p99 / Math.max(base.p99, 0.01)).toFixed(2)}, ` +
          `CPU ×${(echo.cpuTotalPct / Math.max(base.cpuTotalPct, 0.01)).toFixed(2)}, RSS ×${(echo.rssMb / base.rssMb).toFixed(2)}\n`,
      );
    }
    for (const label of ['conversation', 'listening']) {
      const talk = results.find((r) => r.calls === calls && r.target === label);
      if (!base || !talk) continue;
      process.stdout.write(
        `${calls} calls, ${label} / baseline: server CPU per call ${talk.cpuPerCallPct.toFixed(3)} / ${base.cpuPerCallPct.toFixed(3)} % of a core = ` +
          `×${(talk.cpuPerCallPct / Math.max(base.cpuPerCallPct, 0.0001)).toFixed(2)} (target ≤ ×1.5), p99 jitter ${talk.p99.toFixed(2)} / ${base.p99.toFixed(2)} ms; ` +
          `the fakes took ${Number(talk.serverStats?.fakesCpuPct).toFixed(0)} % of a core\n`,
      );
    }
    if (echo?.serverStats) {
      const s = echo.serverStats;
      process.stdout.write(`  server counters: underruns ${String(s.underruns)}, reanchors ${String(s.reanchors)}, backpressure skips ${String(s.backpressureSkips)}\n`);
    }
  }
  const held = (label: string, early = true): number =>
    Math.max(0, ...results.filter((r) => r.target === label && r.p99 <= 10 && r.lost === 0 && (!early || r.early === 0) && r.failures === 0).map((r) => r.calls));
  for (const row of opts.rows.filter((r) => r.label !== 'baseline')) {
    // A reply's first frame goes out at once after silence, up to a frame before the old schedule: jitterStats counts it early.
    process.stdout.write(
      `${row.label}: calls held at p99 <= 10 ms with no lost or early frames: ${held(row.label) || 'none'}; ` +
        `with no lost frames, early ones (reply starts) allowed: ${held(row.label, false) || 'none'} (levels ${opts.levels.join(', ')})\n`,
    );
  }
  if (opts.rows.some((r) => r.label === 'echo')) {
    const best = held('echo');
    process.stdout.write(`target (>= 400 calls at p99 <= 10 ms, no lost or early frames): ${best >= 400 ? 'met' : 'not met'} (best passing level: ${best || 'none'})\n`);
  }
}
