/**
 * ASR benchmark against the local fakes (each in its own process):
 * (a) our overhead from the audio frame that completes the recognizer's end-of-utterance condition
 *     to the `final` event, with the fake answering at once;
 * (b) CPU per recognizing call with 200 concurrent calls fed real-time 20 ms frames.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Asr, AsrEvent } from '../src/asr/asr.js';
import { readAsrConfig } from '../src/asr/config.js';
import { createVoskAsr } from '../src/asr/vosk.js';
import { createYandexAsr } from '../src/asr/yandex.js';
import { EnvReader } from '../src/config/env-reader.js';
import { concatPcm, silence, toFrames } from '../src/audio/frames.js';
import { parseWav } from '../src/audio/wav.js';
import { silentLogger } from '../src/logger.js';
import { closeSharedClients } from '../src/yandex/grpc.js';

const RATE = 8000;
const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));
/** The fakes' defaults: RMS 300 is speech; 400 ms of silence ends an utterance. */
const RMS_THRESHOLD = 300;
const EOU_SILENCE_MS = 400;
const LATENCY_UTTERANCES = 40;
const CONCURRENT_CALLS = 200;
const WARMUP_MS = 3_000;
const MEASURE_MS = 10_000;

interface Child {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts a fake in its own process (standalone mode prints `{"port":N}`). */
async function startFakeChild(file: string, env: Record<string, string>): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url))], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fake exited with ${code}`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  child.removeAllListeners('exit');
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc; undefined where there is no /proc. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function rms(frame: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < frame.length; i += 2) sum += frame.readInt16LE(i) ** 2;
  return Math.sqrt(sum / (frame.length / 2));
}

function speech(stem: string): Buffer {
  return parseWav(readFileSync(`${AUDIO_DIR}${stem}-8k.wav`)).pcm;
}

/** A push-fed audio source, as a call's socket reader would provide. */
function audioSource(): { push(frame: Buffer): void; end(): void; iterable: AsyncIterable<Buffer> } {
  const queue: Buffer[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(frame) {
      queue.push(frame);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const frame = queue.shift();
          if (frame !== undefined) yield frame;
          else if (ended) return;
          else await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** (a): one call; frames fed fast up to the EOU-completing frame, which is fed after a pause and timed. */
async function finalLatency(asr: Asr): Promise<number[]> {
  const stems = ['ru-wait', 'en-wait', 'ru-number', 'en-number'];
  const source = audioSource();
  const controller = new AbortController();
  const samples: number[] = [];
  let triggerAt = 0;
  let onFinal: (() => void) | undefined;
  const consumer = (async () => {
    for await (const event of asr.transcribe(source.iterable, { sampleRate: RATE, signal: controller.signal, log: silentLogger() })) {
      if ((event as AsrEvent).type === 'final' && triggerAt > 0) {
        samples.push(performance.now() - triggerAt);
        triggerAt = 0;
        onFinal?.();
      }
    }
  })();
  for (let n = 0; n < LATENCY_UTTERANCES; n++) {
    const frames = toFrames(concatPcm([speech(stems[n % stems.length]!), silence(EOU_SILENCE_MS + 200, RATE)]), RATE);
    let lastVoiced = -1;
    frames.forEach((f, i) => (rms(f) >= RMS_THRESHOLD ? (lastVoiced = i) : undefined));
    const trigger = lastVoiced + EOU_SILENCE_MS / 20;
    for (let i = 0; i < trigger; i++) source.push(frames[i]!);
    await sleep(60);
    const finalSeen = new Promise<void>((resolve) => (onFinal = resolve));
    triggerAt = performance.now();
    source.push(frames[trigger]!);
    await Promise.race([finalSeen, sleep(2_000)]);
    for (let i = trigger + 1; i < frames.length; i++) source.push(frames[i]!);
    await sleep(20);
  }
  controller.abort();
  source.end();
  await consumer;
  return samples.sort((a, b) => a - b);
}

/** (b): `calls` concurrent calls, one shared 20 ms clock pushing a frame to each. */
async function cpuPerCall(asr: Asr | undefined, calls: number, fakePid: number | undefined): Promise<{ cpuPct: number; fakeCpuPct: number | undefined; finalsPerMin: number }> {
  const loop = toFrames(concatPcm([speech('ru-order'), silence(800, RATE), speech('ru-number'), silence(800, RATE)]), RATE);
  const controllers = Array.from({ length: calls }, () => new AbortController());
  const sources = Array.from({ length: calls }, () => audioSource());
  let finals = 0;
  let counting = false;
  const consumers = sources.map(async (source, i) => {
    if (asr === undefined) {
      for await (const frame of source.iterable) void frame;
      return;
    }
    for await (const event of asr.transcribe(source.iterable, { sampleRate: RATE, signal: controllers[i]!.signal, log: silentLogger() })) {
      if (event.type === 'final' && counting) finals += 1;
    }
  });
  let running = true;
  const clock = (async () => {
    const start = performance.now();
    for (let tick = 0; running; tick++) {
      const wait = start + tick * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      // Calls start spread over one loop of audio, as real calls would be.
      sources.forEach((s, i) => s.push(loop[(tick + i * 37) % loop.length]!));
    }
  })();
  await sleep(WARMUP_MS);
  counting = true;
  const cpu0 = process.cpuUsage();
  const fake0 = fakePid === undefined ? undefined : processCpuSeconds(fakePid);
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fake1 = fakePid === undefined ? undefined : processCpuSeconds(fakePid);
  counting = false;
  running = false;
  await clock;
  for (const c of controllers) c.abort();
  for (const s of sources) s.end();
  await Promise.all(consumers);
  return {
    cpuPct: ((cpu.user + cpu.system) / 1e6 / wallS) * 100,
    fakeCpuPct: fake0 === undefined || fake1 === undefined ? undefined : ((fake1 - fake0) / wallS) * 100,
    finalsPerMin: (finals / wallS) * 60,
  };
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs both measurements for the Yandex (gRPC) and Vosk (WebSocket) recognizers and prints them. */
export async function run(): Promise<void> {
  const base = readAsrConfig(new EnvReader({}));
  const credentials = { apiKey: 'bench', iamToken: undefined, folderId: undefined, tls: false };

  const baseline = await cpuPerCall(undefined, CONCURRENT_CALLS, undefined);
  print(`feeding ${CONCURRENT_CALLS} calls with real-time 20 ms frames, no recognizer: ${baseline.cpuPct.toFixed(1)} % of one core`);

  for (const provider of ['yandex', 'vosk'] as const) {
    const fake = provider === 'yandex'
      ? await startFakeChild('../test/fakes/yandex-stt-server.ts', { FAKE_STT_OPTIONS: JSON.stringify({ eouSilenceMs: EOU_SILENCE_MS }) })
      : await startFakeChild('../test/fakes/vosk-server.ts', { FAKE_VOSK_OPTIONS: JSON.stringify({ eouSilenceMs: EOU_SILENCE_MS }) });
    try {
      const asr = provider === 'yandex'
        ? createYandexAsr({ ...base.yandex, endpoint: `127.0.0.1:${fake.port}` }, { credentials })
        : createVoskAsr({ ...base.vosk, url: `ws://127.0.0.1:${fake.port}` });
      const latency = await finalLatency(asr);
      print(`${provider}: EOU-completing frame → final event (fake answers at once), ${latency.length} utterances: ` +
        `p50 ${percentile(latency, 50).toFixed(2)} ms, p95 ${percentile(latency, 95).toFixed(2)} ms, max ${(latency.at(-1) ?? NaN).toFixed(2)} ms`);
      print(`${provider}: end of caller speech → final = ${EOU_SILENCE_MS} ms (the fake's EOU pause, a provider setting) + the figure above`);
      const load = await cpuPerCall(asr, CONCURRENT_CALLS, fake.pid);
      const perCall = (load.cpuPct - baseline.cpuPct) / CONCURRENT_CALLS;
      print(`${provider}: ${CONCURRENT_CALLS} concurrent recognizing calls: ${load.cpuPct.toFixed(1)} % of one core in this process ` +
        `(${perCall.toFixed(3)} % per call above the feeding baseline), fake server ${load.fakeCpuPct?.toFixed(1) ?? 'n/a'} %, ` +
        `${Math.round(load.finalsPerMin)} finals/min`);
    } finally {
      closeSharedClients();
      await fake.stop();
    }
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await run();
