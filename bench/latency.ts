/**
 * Latency benchmark: voice-to-voice at the socket through every provider fake with fixed provider
 * latencies, our overhead above the providers' floor, the server's per-stage breakdown, speculative
 * replies, how fast a barge-in silences the bot, and the first call after start beside later ones.
 *
 * Flags: --turns 10 (turns of the 1-call level)  --calls 200 (the concurrent level)
 *        --barge-calls 5  --stagger-ms 2000  --only one,many,spec,barge,first
 *        --first-calls 6 (one-turn calls in a row after start)  --connect-delay-ms 100 (each new
 *        connection to a fake waits this long, as a handshake with a remote provider would)
 *        --small-fake-window (gRPC fakes keep Node's 64 KB HTTP/2 window, which throttles hundreds of calls)
 *        --profile DIR (write a V8 CPU profile of each server child there)
 *        --dump DIR (write each scenario's caller results and server log lines there as JSON)
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg, setPriority } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { resample } from '../src/audio/resample.js';
import { readWav } from '../src/audio/wav.js';
import { percentile } from '../src/sim/stats.js';
import { runCaller, type CallerResult, type CallerScript } from './lib/latency-caller.js';
import { procUsage, REPO_DIR, startFakesChild, startServerProc, type ProcUsage } from './lib/latency-procs.js';
import type { FakesConfig } from './lib/fakes-child.js';

const ASR_EOU_MS = 300;
const LLM_FIRST_TOKEN_MS = 250;
const TTS_FIRST_AUDIO_MS = 120;
const FLOOR_MS = ASR_EOU_MS + LLM_FIRST_TOKEN_MS + TTS_FIRST_AUDIO_MS;
const TARGET_ONE_P95_MS = 30;
const TARGET_MANY_P95_MS = 60;
const TARGET_BARGE_FRAMES = 1;

const WORDS = {
  order: 'Hello, I would like to check the status of my order.',
  number: 'Yes, the order number is one two three four.',
  wait: 'Wait, stop, one second.',
};
const SHORT_REPLY = ['Sure, your order ships today. ', 'It ', 'will ', 'arrive ', 'tomorrow.'];
const LONG_REPLY =
  'Sure, let me look that up for you. Your order was placed yesterday evening and packed this morning. ' +
  'It has been handed to the courier, who will deliver it tomorrow before noon. ' +
  'The courier will call you about an hour before arriving. If that time does not suit you, it can be moved.';

type Scenario = 'one' | 'many' | 'spec' | 'barge' | 'first';
const SCENARIOS: readonly Scenario[] = ['one', 'many', 'spec', 'barge', 'first'];

/**
 * `--nice N` lowers the fakes' and the callers' priority below the server's, as if the providers
 * and Asterisk ran on other machines; 0 (the default) lets all three compete equally.
 */
let niceness = 0;

function options() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      turns: { type: 'string', default: '10' },
      calls: { type: 'string', default: '200' },
      'barge-calls': { type: 'string', default: '5' },
      'stagger-ms': { type: 'string', default: '2000' },
      only: { type: 'string', default: SCENARIOS.join(',') },
      'first-calls': { type: 'string', default: '6' },
      'connect-delay-ms': { type: 'string', default: '100' },
      dump: { type: 'string' },
      'small-fake-window': { type: 'boolean', default: false },
      profile: { type: 'string' },
      nice: { type: 'string', default: '0' },
    },
    strict: false,
    allowPositionals: true,
  });
  const turns = Number(values.turns);
  const calls = Number(values.calls);
  const bargeCalls = Number(values['barge-calls']);
  const staggerMs = Number(values['stagger-ms']);
  const only = new Set(String(values.only).split(',') as Scenario[]);
  const firstCalls = Number(values['first-calls']);
  const connectDelayMs = Number(values['connect-delay-ms']);
  if (!(connectDelayMs >= 0)) throw new Error('--connect-delay-ms must be a number ≥ 0');
  for (const [name, v] of [['--turns', turns], ['--calls', calls], ['--barge-calls', bargeCalls], ['--first-calls', firstCalls]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  }
  if (!(staggerMs >= 0)) throw new Error('--stagger-ms must be a number ≥ 0');
  for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`--only takes ${SCENARIOS.join(',')}; got ${s}`);
  const dumpDir = typeof values.dump === 'string' ? values.dump : undefined;
  const largeGrpcWindow = values['small-fake-window'] !== true;
  const profileDir = typeof values.profile === 'string' ? values.profile : undefined;
  const nice = Number(values.nice);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new Error('--nice must be an integer 0–19');
  niceness = nice;
  if (firstCalls < 2) throw new Error('--first-calls must be at least 2');
  return { turns, calls, bargeCalls, staggerMs, only, dumpDir, largeGrpcWindow, profileDir, firstCalls, connectDelayMs };
}

async function clip(stem: string): Promise<Buffer> {
  const wav = await readWav(join(REPO_DIR, '..', 'shared', 'audio', `${stem}-16k.wav`));
  return wav.sampleRate === 16000 ? wav.pcm : resample(wav.pcm, wav.sampleRate, 16000);
}

function fakesConfig(kind: 'short' | 'barge', largeGrpcWindow: boolean, connectDelayMs = 0): FakesConfig {
  return {
    largeGrpcWindow,
    connectDelayMs,
    stt: { eouSilenceMs: ASR_EOU_MS, latencyMs: 0 },
    texts: kind === 'short' ? [WORDS.order, WORDS.number] : [WORDS.order, WORDS.wait],
    llm: {
      firstTokenMs: LLM_FIRST_TOKEN_MS,
      tokenDelayMs: 20,
      replies:
        kind === 'short'
          ? [{ text: SHORT_REPLY }]
          : [{ whenUserSays: 'wait', text: ['Of course, ', 'take ', 'your ', 'time.'] }, { text: LONG_REPLY }],
    },
    tts: { firstChunkDelayMs: TTS_FIRST_AUDIO_MS, msPerChar: kind === 'short' ? 30 : 60, chunkMs: 100, chunkIntervalMs: 0 },
    ttsHttp: { firstChunkDelayMs: TTS_FIRST_AUDIO_MS, msPerChar: kind === 'short' ? 30 : 60, chunkMs: 100, chunkIntervalMs: 0 },
  };
}

/** What one scenario run produced. */
interface RunResult {
  callers: CallerResult[];
  logs: Record<string, any>[];
  wallMs: number;
  serverCpuPct: number;
  serverRssMaxMb: number;
  fakesCpuPct: number;
  callerLoopP99Ms: number;
  callerLoopMaxMs: number;
  serverLoopP99Ms: number;
  serverLoopMaxMs: number;
  fakesLoopP99Ms: number;
  fakesLoopMaxMs: number;
  /** CPU of the benchmark process (the callers), % of one core. */
  callerCpuPct: number;
}

async function runScenario(
  fakes: FakesConfig,
  env: Record<string, string>,
  scripts: (port: number) => Promise<CallerResult[]>,
  profileDir?: string,
  settleMs = 300,
): Promise<RunResult> {
  const fakesChild = await startFakesChild(fakes);
  try {
    const server = await startServerProc(fakesChild.ready, env, profileDir);
    // After the server is spawned, so that it keeps the normal priority.
    if (niceness > 0) {
      setPriority(fakesChild.pid, niceness);
      setPriority(niceness);
    }
    try {
      await sleep(settleMs);
      const s0 = procUsage(server.pid);
      const f0 = procUsage(fakesChild.pid);
      let rssMax = s0?.rssBytes ?? 0;
      await Promise.all([server.loopLag(), fakesChild.loopLag()]);
      const c0 = process.cpuUsage();
      const sampler = setInterval(() => (rssMax = Math.max(rssMax, procUsage(server.pid)?.rssBytes ?? 0)), 250);
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const t0 = performance.now();
      const callers = await scripts(server.port);
      const wallMs = performance.now() - t0;
      loop.disable();
      clearInterval(sampler);
      const s1 = procUsage(server.pid);
      const f1 = procUsage(fakesChild.pid);
      const callerCpu = process.cpuUsage(c0);
      const [lag, fakesLag] = await Promise.all([server.loopLag(), fakesChild.loopLag()]);
      // The last turns' log lines are written as their calls end.
      await sleep(500);
      return {
        callers,
        logs: [...server.logs],
        wallMs,
        serverCpuPct: cpuPct(s0, s1),
        serverRssMaxMb: Math.max(rssMax, s1?.rssBytes ?? 0) / 2 ** 20,
        fakesCpuPct: cpuPct(f0, f1),
        callerLoopP99Ms: loop.percentile(99) / 1e6,
        callerLoopMaxMs: loop.max / 1e6,
        serverLoopP99Ms: lag?.p99Ms ?? NaN,
        serverLoopMaxMs: lag?.maxMs ?? NaN,
        fakesLoopP99Ms: fakesLag?.p99Ms ?? NaN,
        fakesLoopMaxMs: fakesLag?.maxMs ?? NaN,
        callerCpuPct: ((callerCpu.user + callerCpu.system) / 1000 / wallMs) * 100,
      };
    } finally {
      await server.stop();
    }
  } finally {
    // Back to normal priority (allowed to root, the benchmark's usual user here) for the next server.
    if (niceness > 0) {
      try {
        setPriority(0);
      } catch {
        // Not allowed: later scenarios then run their server niced too.
      }
    }
    await fakesChild.stop();
  }
}

function cpuPct(a: ProcUsage | undefined, b: ProcUsage | undefined): number {
  if (a === undefined || b === undefined || b.atMs <= a.atMs) return NaN;
  return ((b.cpuMs - a.cpuMs) / (b.atMs - a.atMs)) * 100;
}

/** Figures of one level. */
interface LevelFigures {
  label: string;
  samples: number;
  missing: number;
  errors: string[];
  v2v: number[];
  turnLines: Record<string, any>[];
  run: RunResult;
}

function levelFigures(label: string, run: RunResult): LevelFigures {
  const v2v: number[] = [];
  let missing = 0;
  for (const c of run.callers) {
    for (const l of c.latenciesMs) {
      if (l === undefined) missing++;
      else v2v.push(l);
    }
  }
  return {
    label,
    samples: v2v.length,
    missing,
    errors: run.callers.flatMap((c) => (c.error === undefined ? [] : [c.error])),
    v2v,
    turnLines: run.logs.filter((l) => l.msg === 'turn latency'),
    run,
  };
}

const median = (values: number[]): number => percentile(values, 50);
const fmt = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

function stageMedians(lines: Record<string, any>[]): Record<string, number> {
  const diff = (a: string, b?: string) =>
    median(lines.filter((l) => typeof l[a] === 'number' && (b === undefined || typeof l[b] === 'number')).map((l) => l[a] - (b === undefined ? 0 : l[b])));
  return {
    asr: diff('asr_final'),
    llm: diff('llm_first_token', 'asr_final'),
    chunk: diff('first_chunk', 'llm_first_token'),
    tts: diff('tts_first_audio', 'first_chunk'),
    frame: diff('first_frame', 'tts_first_audio'),
    v2v: diff('first_frame'),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

function printLevels(levels: { figures: LevelFigures; target: number | undefined }[]): void {
  const rows: string[][] = [
    ['level', 'samples', 'v2v p50', 'p95', 'max', 'overhead p50', 'p95', 'target p95', 'met', 'speculative', 'srv CPU %', 'srv RSS MB', 'srv lag p99/max', 'fakes CPU %', 'fakes lag p99/max', 'caller CPU %', 'caller lag p99/max'],
  ];
  for (const { figures: f, target } of levels) {
    const p95 = percentile(f.v2v, 95) - FLOOR_MS;
    const spec = f.turnLines.filter((l) => l.speculative === true).length;
    rows.push([
      f.label,
      `${f.samples}${f.missing > 0 ? ` (+${f.missing} none)` : ''}`,
      fmt(median(f.v2v)),
      fmt(percentile(f.v2v, 95)),
      fmt(Math.max(...f.v2v)),
      fmt(median(f.v2v) - FLOOR_MS),
      fmt(p95),
      target === undefined ? '–' : `≤ ${target}`,
      target === undefined ? '–' : p95 <= target ? 'yes' : 'NO',
      `${spec}/${f.turnLines.length}`,
      fmt(f.run.serverCpuPct),
      fmt(f.run.serverRssMaxMb),
      `${fmt(f.run.serverLoopP99Ms, 1)}/${fmt(f.run.serverLoopMaxMs, 1)}`,
      fmt(f.run.fakesCpuPct),
      `${fmt(f.run.fakesLoopP99Ms, 1)}/${fmt(f.run.fakesLoopMaxMs, 1)}`,
      fmt(f.run.callerCpuPct),
      `${fmt(f.run.callerLoopP99Ms, 1)}/${fmt(f.run.callerLoopMaxMs, 1)}`,
    ]);
  }
  process.stdout.write(`${table(rows)}\n\n`);
  const stageRows: string[][] = [
    ['server stages (median ms)', 'asr_final', 'llm_first_token−asr', 'first_chunk−llm', 'tts_first_audio−chunk', 'first_frame−tts', 'server v2v'],
    ['provider floor', `${ASR_EOU_MS}`, `${LLM_FIRST_TOKEN_MS}`, '0', `${TTS_FIRST_AUDIO_MS}`, '0', `${FLOOR_MS}`],
  ];
  for (const { figures: f } of levels) {
    const m = stageMedians(f.turnLines);
    stageRows.push([f.label, fmt(m.asr!, 1), fmt(m.llm!, 1), fmt(m.chunk!, 1), fmt(m.tts!, 1), fmt(m.frame!, 1), fmt(m.v2v!, 1)]);
  }
  process.stdout.write(`${table(stageRows)}\n`);
  for (const { figures: f } of levels) {
    if (f.errors.length > 0) process.stdout.write(`${f.label}: ${f.errors.length} caller error(s), e.g. ${f.errors[0]}\n`);
  }
  process.stdout.write('\n');
}

/** Runs the latency benchmark and prints its tables. */
export async function run(): Promise<void> {
  const opts = options();
  const [order, number, wait] = await Promise.all([clip('en-order'), clip('en-number'), clip('en-wait')]);
  process.stdout.write(
    `floor = ASR end-of-utterance ${ASR_EOU_MS} + LLM first token ${LLM_FIRST_TOKEN_MS} + TTS first audio ${TTS_FIRST_AUDIO_MS} = ${FLOOR_MS} ms; ` +
      `targets: overhead p95 ≤ ${TARGET_ONE_P95_MS} ms at 1 call, ≤ ${TARGET_MANY_P95_MS} ms at ${opts.calls} calls; ` +
      `barge-in silent within ${TARGET_BARGE_FRAMES} frame (20 ms) of the decision\n`,
  );
  process.stdout.write(`machine: load ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start; v2v = caller speech end → first voiced reply frame, at the socket\n\n`);

  const alternating = (turns: number) => Array.from({ length: turns }, (_, i) => (i % 2 === 0 ? order : number));
  const script = (port: number, clips: Buffer[]): CallerScript => ({ port, uuid: randomUUID(), clips, afterReplyMs: 200, replyEndSilenceMs: 400 });
  const levels: { figures: LevelFigures; target: number | undefined }[] = [];
  const scenario = (kind: 'short' | 'barge', env: Record<string, string>, scripts: (port: number) => Promise<CallerResult[]>) =>
    runScenario(fakesConfig(kind, opts.largeGrpcWindow), env, scripts, opts.profileDir);

  if (opts.only.has('one')) {
    const r = await scenario('short', {}, async (port) => [await runCaller(script(port, alternating(opts.turns)))]);
    levels.push({ figures: levelFigures('1 call', r), target: TARGET_ONE_P95_MS });
  }
  if (opts.only.has('spec')) {
    const r = await scenario('short', { SPECULATIVE_REPLY: 'true' }, async (port) => [await runCaller(script(port, alternating(opts.turns)))]);
    levels.push({ figures: levelFigures('1 call, speculative', r), target: undefined });
  }
  if (opts.only.has('many')) {
    const r = await scenario('short', {}, (port) =>
      Promise.all(
        Array.from({ length: opts.calls }, async (_, i) => {
          await sleep((i * opts.staggerMs) / opts.calls);
          return runCaller(script(port, alternating(2)));
        }),
      ),
    );
    levels.push({ figures: levelFigures(`${opts.calls} calls`, r), target: TARGET_MANY_P95_MS });
  }
  if (levels.length > 0) printLevels(levels);
  if (opts.dumpDir !== undefined) {
    await mkdir(opts.dumpDir, { recursive: true });
    for (const { figures } of levels) {
      const name = figures.label.replace(/[^a-z0-9]+/gi, '-');
      await writeFile(join(opts.dumpDir, `latency-${name}.json`), JSON.stringify({ callers: figures.run.callers, logs: figures.run.logs }));
    }
  }

  if (opts.only.has('first')) {
    const rows: FirstCallRow[] = [];
    for (const [label, env] of [
      ['warm-up on (default)', {}],
      ['warm-up off (LLM_KEEP_WARM_MS=0)', { LLM_KEEP_WARM_MS: '0', YANDEX_TTS_HTTP_KEEP_WARM_MS: '0' }],
    ] as const) {
      // One-turn calls one after another, the first as soon as the server listens.
      const r = await runScenario(fakesConfig('short', opts.largeGrpcWindow, opts.connectDelayMs), env, async (port) => {
        const out: CallerResult[] = [];
        for (let i = 0; i < opts.firstCalls; i++) out.push(await runCaller(script(port, [order])));
        return out;
      }, opts.profileDir, 0);
      rows.push({ label, run: r });
    }
    printFirstCalls(rows, opts.connectDelayMs);
  }

  if (opts.only.has('barge')) {
    const r = await scenario('barge', {}, (port) =>
      Promise.all(
        Array.from({ length: opts.bargeCalls }, async (_, i) => {
          await sleep(i * 100);
          return runCaller({ ...script(port, [order, wait]), bargeInAfterReplyStartMs: 1500 });
        }),
      ),
    );
    printBargeIn(r);
  }
}

/** One run of the first-call scenario. */
interface FirstCallRow {
  label: string;
  run: RunResult;
}

function printFirstCalls(rows: FirstCallRow[], connectDelayMs: number): void {
  const table1: string[][] = [['first call after start', 'calls', 'first v2v', 'later v2v p50', 'first − later', 'first llm−asr', 'later llm−asr p50', 'first tts−chunk', 'later tts−chunk p50']];
  for (const { label, run } of rows) {
    const v2v = run.callers.map((c) => c.latenciesMs[0]);
    const lines = run.callers.map((c) => run.logs.find((l) => l.msg === 'turn latency' && l.callId === c.uuid));
    const llm = lines.map((l) => (l && typeof l.llm_first_token === 'number' ? l.llm_first_token - l.asr_final : NaN));
    const tts = lines.map((l) => (l && typeof l.tts_first_audio === 'number' ? l.tts_first_audio - l.first_chunk : NaN));
    const later = (values: (number | undefined)[]) => median(values.slice(1).filter((v): v is number => v !== undefined && Number.isFinite(v)));
    const first = v2v[0] ?? NaN;
    table1.push([label, `${run.callers.length}`, fmt(first), fmt(later(v2v)), fmt(first - later(v2v)), fmt(llm[0]!, 1), fmt(later(llm), 1), fmt(tts[0]!, 1), fmt(later(tts), 1)]);
  }
  process.stdout.write(`${table(table1)}\n(each new connection to a fake waits ${connectDelayMs} ms, as a handshake with a remote provider would)\n\n`);
}

function printBargeIn(r: RunResult): void {
  const decisions = new Map<string, Record<string, any>>();
  for (const l of r.logs) if (l.msg === 'barge-in' && !decisions.has(l.callId)) decisions.set(l.callId, l);
  const frames: number[] = [];
  const lastMs: number[] = [];
  let noDecision = 0;
  for (const c of r.callers) {
    const d = decisions.get(c.uuid);
    const second = c.clips[1];
    if (d === undefined || second === undefined || !Number.isFinite(c.t0EpochMs)) {
      noDecision++;
      continue;
    }
    const decisionMs = Number(d.time) - c.t0EpochMs;
    // Voiced frames of the cut reply: before the reply to the interruption could start.
    const cut = c.voicedMs.filter((at) => at > second.startMs - 1000 && at < second.speechEndMs);
    frames.push(cut.filter((at) => at > decisionMs).length);
    lastMs.push(cut.length === 0 ? NaN : cut[cut.length - 1]! - decisionMs);
  }
  const finite = lastMs.filter(Number.isFinite);
  const maxFrames = frames.length === 0 ? NaN : Math.max(...frames);
  const rows = [
    ['barge-in', 'calls', 'decided', 'frames after decision p50', 'max', 'last voiced frame − decision ms p50', 'max', 'target', 'met', 'srv CPU %'],
    [
      `${r.callers.length} calls, interrupt 1.5 s into the reply`,
      `${r.callers.length}`,
      `${frames.length}`,
      fmt(median(frames)),
      fmt(maxFrames),
      fmt(median(finite), 1),
      fmt(finite.length === 0 ? NaN : Math.max(...finite), 1),
      `≤ ${TARGET_BARGE_FRAMES} frame`,
      frames.length > 0 && maxFrames <= TARGET_BARGE_FRAMES ? 'yes' : 'NO',
      fmt(r.serverCpuPct),
    ],
  ];
  process.stdout.write(`${table(rows)}\n`);
  if (noDecision > 0) process.stdout.write(`${noDecision} call(s) logged no barge-in decision\n`);
  const errors = r.callers.flatMap((c) => (c.error === undefined ? [] : [c.error]));
  if (errors.length > 0) process.stdout.write(`${errors.length} caller error(s), e.g. ${errors[0]}\n`);
}
