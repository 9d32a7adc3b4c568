/**
 * Latency benchmark: voice-to-voice at the socket through every provider fake with fixed provider
 * latencies, our overhead above the providers' floor, the server's per-stage breakdown, speculative
 * replies, how fast a barge-in silences the bot, and the first call after start beside later ones.
 *
 * The model streams tokens the way BPE models do (" word", ".", " Next") and, in a second pass of
 * every level, with the space glued to the punctuation before it ("word. ", "Next "); the floor
 * includes the model's own time from its first token to the token that ends the first chunk.
 *
 * Flags: --turns 10 (turns of the 1-call level)  --calls 200 (the concurrent level)
 *        --barge-calls 5  --stagger-ms 2000  --only one,many,spec,barge,first  --tokens bpe,trailing
 *        --first-calls 6 (one-turn calls in a row after start)  --connect-delay-ms 100 (each new
 *        connection to a fake waits this long, as a handshake with a remote provider would)
 *        --small-fake-window (gRPC fakes keep Node's 64 KB HTTP/2 window, which throttles hundreds of calls)
 *        --workers N (WORKERS of the server in the many-calls level)
 *        --profile DIR (write a V8 CPU profile of each server child there)
 *        --entry build|source (the server from the tsc build, as the container runs it, or through tsx)
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
import { tokenize, type TokenStyle } from '../test/fakes/openai-server.js';
import { runCaller, type CallerResult, type CallerScript } from './lib/latency-caller.js';
import { levelFigures, printBargeIn, printFirstCalls, printLevels, type FirstCallRow, type Floor, type LevelFigures, type RunResult } from './lib/latency-report.js';
import { lateMs, LOOP_SAMPLE_MS } from './lib/loop-lag.js';
import { procTreeUsage, procUsage, REPO_DIR, startFakesChild, startServerProc, type ProcUsage } from './lib/latency-procs.js';
import type { FakesConfig } from './lib/fakes-child.js';

const ASR_EOU_MS = 300;
const LLM_FIRST_TOKEN_MS = 250;
const LLM_TOKEN_GAP_MS = 20;
const TTS_FIRST_AUDIO_MS = 120;
const TARGET_ONE_P95_MS = 30;
const TARGET_MANY_P95_MS = 60;
const TARGET_BARGE_FRAMES = 1;

const WORDS = {
  order: 'Hello, I would like to check the status of my order.',
  number: 'Yes, the order number is one two three four.',
  wait: 'Wait, stop, one second.',
};
const SHORT_REPLY = 'Sure, your order ships today. It will arrive tomorrow.';
const WAIT_REPLY = 'Of course, take your time.';
const LONG_REPLY =
  'Sure, let me look that up for you. Your order was placed yesterday evening and packed this morning. ' +
  'It has been handed to the courier, who will deliver it tomorrow before noon. ' +
  'The courier will call you about an hour before arriving. If that time does not suit you, it can be moved.';

type Scenario = 'one' | 'many' | 'spec' | 'barge' | 'first';
const SCENARIOS: readonly Scenario[] = ['one', 'many', 'spec', 'barge', 'first'];
const TOKEN_STYLES: readonly TokenStyle[] = ['bpe', 'trailing'];

/** The floor of the short reply: its first chunk is its first sentence, ready with the token carrying the full stop. */
function shortFloor(style: TokenStyle): Floor {
  const tokens = tokenize(SHORT_REPLY, style);
  const end = tokens.findIndex((t) => /[.!?]/.test(t));
  return { asr: ASR_EOU_MS, firstToken: LLM_FIRST_TOKEN_MS, stream: end * LLM_TOKEN_GAP_MS, tts: TTS_FIRST_AUDIO_MS };
}

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
      tokens: { type: 'string', default: TOKEN_STYLES.join(',') },
      'first-calls': { type: 'string', default: '6' },
      'connect-delay-ms': { type: 'string', default: '100' },
      dump: { type: 'string' },
      'small-fake-window': { type: 'boolean', default: false },
      profile: { type: 'string' },
      nice: { type: 'string', default: '0' },
      workers: { type: 'string', default: '1' },
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
  const tokens = String(values.tokens).split(',') as TokenStyle[];
  for (const t of tokens) if (!TOKEN_STYLES.includes(t)) throw new Error(`--tokens takes ${TOKEN_STYLES.join(',')}; got ${t}`);
  const dumpDir = typeof values.dump === 'string' ? values.dump : undefined;
  const largeGrpcWindow = values['small-fake-window'] !== true;
  const profileDir = typeof values.profile === 'string' ? values.profile : undefined;
  const nice = Number(values.nice);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new Error('--nice must be an integer 0–19');
  niceness = nice;
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers must be a positive integer');
  if (firstCalls < 2) throw new Error('--first-calls must be at least 2');
  return { turns, calls, bargeCalls, staggerMs, only, tokens, dumpDir, largeGrpcWindow, profileDir, firstCalls, connectDelayMs, workers };
}

async function clip(stem: string): Promise<Buffer> {
  const wav = await readWav(join(REPO_DIR, '..', 'shared', 'audio', `${stem}-16k.wav`));
  return wav.sampleRate === 16000 ? wav.pcm : resample(wav.pcm, wav.sampleRate, 16000);
}

function fakesConfig(kind: 'short' | 'barge', tokens: TokenStyle, largeGrpcWindow: boolean, connectDelayMs = 0): FakesConfig {
  return {
    largeGrpcWindow,
    connectDelayMs,
    stt: { eouSilenceMs: ASR_EOU_MS, latencyMs: 0 },
    texts: kind === 'short' ? [WORDS.order, WORDS.number] : [WORDS.order, WORDS.wait],
    llm: {
      firstTokenMs: LLM_FIRST_TOKEN_MS,
      tokenDelayMs: LLM_TOKEN_GAP_MS,
      tokens,
      replies: kind === 'short' ? [{ text: SHORT_REPLY }] : [{ whenUserSays: 'wait', text: WAIT_REPLY }, { text: LONG_REPLY }],
    },
    tts: { firstChunkDelayMs: TTS_FIRST_AUDIO_MS, msPerChar: kind === 'short' ? 30 : 60, chunkMs: 100, chunkIntervalMs: 0 },
    ttsHttp: { firstChunkDelayMs: TTS_FIRST_AUDIO_MS, msPerChar: kind === 'short' ? 30 : 60, chunkMs: 100, chunkIntervalMs: 0 },
  };
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
      const s0 = procTreeUsage(server.pid);
      const f0 = procUsage(fakesChild.pid);
      let rssMax = s0?.rssBytes ?? 0;
      await Promise.all([server.loopLag(), fakesChild.loopLag()]);
      const c0 = process.cpuUsage();
      const sampler = setInterval(() => (rssMax = Math.max(rssMax, procTreeUsage(server.pid)?.rssBytes ?? 0)), 250);
      const loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
      loop.enable();
      const t0 = performance.now();
      const callers = await scripts(server.port);
      const wallMs = performance.now() - t0;
      loop.disable();
      clearInterval(sampler);
      const s1 = procTreeUsage(server.pid);
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
        callerLoopP99Ms: lateMs(loop.percentile(99), LOOP_SAMPLE_MS),
        callerLoopMaxMs: lateMs(loop.max, LOOP_SAMPLE_MS),
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

/** Runs the latency benchmark and prints its tables. */
export async function run(): Promise<void> {
  const opts = options();
  const [order, number, wait] = await Promise.all([clip('en-order'), clip('en-number'), clip('en-wait')]);
  const floors = opts.tokens.map((t) => {
    const f = shortFloor(t);
    return `${t} tokens ${f.asr} + ${f.firstToken} + ${f.stream} + ${f.tts} = ${f.asr + f.firstToken + f.stream + f.tts} ms`;
  });
  process.stdout.write(
    `floor = ASR end-of-utterance + LLM first token + the model's streaming to the first full stop (${LLM_TOKEN_GAP_MS} ms a token) + TTS first audio: ` +
      `${floors.join(', ')}; targets: overhead p95 ≤ ${TARGET_ONE_P95_MS} ms at 1 call, ≤ ${TARGET_MANY_P95_MS} ms at ${opts.calls} calls; ` +
      `barge-in silent within ${TARGET_BARGE_FRAMES} frame (20 ms) of the decision\n`,
  );
  process.stdout.write(`machine: load ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start; v2v = caller speech end → first voiced reply frame, at the socket\n\n`);

  const alternating = (turns: number) => Array.from({ length: turns }, (_, i) => (i % 2 === 0 ? order : number));
  const script = (port: number, clips: Buffer[]): CallerScript => ({ port, uuid: randomUUID(), clips, afterReplyMs: 200, replyEndSilenceMs: 400 });
  const levels: { figures: LevelFigures; target: number | undefined }[] = [];
  const scenario = (kind: 'short' | 'barge', tokens: TokenStyle, env: Record<string, string>, scripts: (port: number) => Promise<CallerResult[]>) =>
    runScenario(fakesConfig(kind, tokens, opts.largeGrpcWindow), env, scripts, opts.profileDir);
  const level = async (label: string, target: number | undefined, env: Record<string, string>, scripts: (port: number) => Promise<CallerResult[]>) => {
    for (const tokens of opts.tokens) {
      const r = await scenario('short', tokens, env, scripts);
      levels.push({ figures: levelFigures(`${label}, ${tokens} tokens`, tokens, shortFloor(tokens), r), target });
    }
  };

  if (opts.only.has('one')) {
    await level('1 call', TARGET_ONE_P95_MS, {}, async (port) => [await runCaller(script(port, alternating(opts.turns)))]);
  }
  if (opts.only.has('spec')) {
    await level('1 call, speculative', undefined, { SPECULATIVE_REPLY: 'true' }, async (port) => [await runCaller(script(port, alternating(opts.turns)))]);
  }
  if (opts.only.has('many')) {
    const workers: Record<string, string> = opts.workers > 1 ? { WORKERS: String(opts.workers) } : {};
    await level(`${opts.calls} calls${opts.workers > 1 ? `, ${opts.workers} workers` : ''}`, TARGET_MANY_P95_MS, workers, (port) =>
      Promise.all(
        Array.from({ length: opts.calls }, async (_, i) => {
          await sleep((i * opts.staggerMs) / opts.calls);
          return runCaller(script(port, alternating(2)));
        }),
      ),
    );
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
      const r = await runScenario(fakesConfig('short', opts.tokens[0]!, opts.largeGrpcWindow, opts.connectDelayMs), env, async (port) => {
        const out: CallerResult[] = [];
        for (let i = 0; i < opts.firstCalls; i++) out.push(await runCaller(script(port, [order])));
        return out;
      }, opts.profileDir, 0);
      rows.push({ label, run: r });
    }
    printFirstCalls(rows, opts.connectDelayMs);
  }

  if (opts.only.has('barge')) {
    const r = await scenario('barge', opts.tokens[0]!, {}, (port) =>
      Promise.all(
        Array.from({ length: opts.bargeCalls }, async (_, i) => {
          await sleep(i * 100);
          return runCaller({ ...script(port, [order, wait]), bargeInAfterReplyStartMs: 1500 });
        }),
      ),
    );
    printBargeIn(r, TARGET_BARGE_FRAMES);
  }
}
