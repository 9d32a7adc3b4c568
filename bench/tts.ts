/**
 * TTS benchmark: time from a chunk's text being ready to the first PCM out of the Tts
 * (gRPC against the local fake at zero delay, i.e. our overhead; the HTTP fallback; the hedge
 * when the primary hangs), and the embedded voice's start-up cost, real-time factor and how long
 * the main event loop is held while it speaks. The fakes run in this process.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { silentLogger } from '../src/logger.js';
import type { YandexTtsConfig } from '../src/tts/config.js';
import { createHedgedTts } from '../src/tts/hedged.js';
import { createLocalTts } from '../src/tts/local.js';
import type { Tts } from '../src/tts/tts.js';
import { createYandexGrpcTts } from '../src/tts/yandex-grpc.js';
import { createYandexHttpTts } from '../src/tts/yandex-http.js';
import { closeSharedClients } from '../src/yandex/grpc.js';
import { startFakeYandexTts } from '../test/fakes/yandex-tts-server.js';
import { startFakeYandexTtsHttp } from '../test/fakes/yandex-tts-http.js';
import { FINE_SAMPLE_MS, lateMs } from './lib/loop-lag.js';

const RATE = 8000;
const CHUNK = 'Конечно, я помогу вам с этим вопросом прямо сейчас.';
const RUNS = 200;
const HEDGE_RUNS = 10;
const HEDGE_MS = 300;
const LONG_TEXT = 'Здравствуйте! Вы позвонили в службу поддержки. Чем я могу вам помочь сегодня? '.repeat(4);

const log = silentLogger();
const creds = { apiKey: 'bench-key', iamToken: undefined, folderId: undefined, tls: false };

function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

function stats(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return `p50 ${at(0.5).toFixed(2)} ms, p95 ${at(0.95).toFixed(2)} ms, mean ${mean.toFixed(2)} ms (n=${sorted.length})`;
}

/** Milliseconds from the call to the first PCM piece; the rest of the audio is drained. */
async function firstAudioMs(tts: Tts, text: string): Promise<number> {
  const started = performance.now();
  let first = -1;
  for await (const pcm of tts.synthesize(text, { sampleRate: RATE, signal: new AbortController().signal })) {
    if (first < 0 && pcm.length > 0) first = performance.now() - started;
  }
  if (first < 0) throw new Error('no audio');
  return first;
}

async function measure(tts: Tts, runs: number, warmup = 5): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await firstAudioMs(tts, CHUNK);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await firstAudioMs(tts, CHUNK));
  return samples;
}

/** Benchmark entry: prints one line per figure. */
export async function run(): Promise<void> {
  const grpcFake = await startFakeYandexTts();
  const httpFake = await startFakeYandexTtsHttp();
  try {
    const config: YandexTtsConfig = {
      endpoint: grpcFake.endpoint,
      httpUrl: httpFake.url,
      voice: 'alena',
      role: undefined,
      speed: 1,
      model: undefined,
      lang: 'ru-RU',
      hedgeMs: HEDGE_MS,
      timeoutMs: 10_000,
      httpKeepWarmMs: 0,
    };
    const grpcTts = createYandexGrpcTts(config, creds, { log });
    const httpTts = createYandexHttpTts(config, creds, { log });
    line(`text ready -> first PCM, gRPC vs fake at 0 ms:   ${stats(await measure(grpcTts, RUNS))}`);
    line(`text ready -> first PCM, HTTP v1 fallback:        ${stats(await measure(httpTts, RUNS))}`);
    const hedged = createHedgedTts(grpcTts, httpTts, { hedgeMs: HEDGE_MS, log });
    line(`text ready -> first PCM, hedged, primary healthy: ${stats(await measure(hedged, RUNS))}`);
    grpcFake.options.hang = true;
    line(`text ready -> first PCM, hedge ${HEDGE_MS} ms, gRPC hangs: ${stats(await measure(hedged, HEDGE_RUNS, 1))}`);
    grpcFake.options.hang = false;
  } finally {
    closeSharedClients();
    await grpcFake.close();
    await httpFake.close();
  }

  // Embedded voice: the first synthesis pays for the worker, the WASM module and its 24 MB of data.
  const local = createLocalTts({ voice: 'ru', rate: 175, workers: 1 }, { log });
  try {
    const coldStarted = performance.now();
    const coldFirst = await firstAudioMs(local, CHUNK);
    line(`embedded voice start-up, first synthesis to first PCM: ${coldFirst.toFixed(0)} ms (done ${(performance.now() - coldStarted).toFixed(0)} ms)`);
    line(`embedded voice warm, text ready -> first PCM: ${stats(await measure(local, 30, 2))}`);

    const loop = monitorEventLoopDelay({ resolution: FINE_SAMPLE_MS });
    loop.enable();
    const started = performance.now();
    let bytes = 0;
    for await (const pcm of local.synthesize(LONG_TEXT, { sampleRate: RATE, signal: new AbortController().signal })) bytes += pcm.length;
    const elapsed = performance.now() - started;
    loop.disable();
    const audioMs = (bytes / 2 / RATE) * 1000;
    line(`embedded voice real-time factor: ${(elapsed / audioMs).toFixed(3)} (${elapsed.toFixed(0)} ms for ${(audioMs / 1000).toFixed(1)} s of speech at ${RATE} Hz)`);
    line(`main event loop delay while it speaks: max ${lateMs(loop.max, FINE_SAMPLE_MS).toFixed(1)} ms, p99 ${lateMs(loop.percentile(99), FINE_SAMPLE_MS).toFixed(1)} ms`);

    // What the worker thread keeps off the main loop: one sentence synthesized in-thread.
    const specifier = '@echogarden/espeak-ng-emscripten';
    const factory = ((await import(specifier)) as { default: () => Promise<{ eSpeakNGWorker: new () => { set_voice(v: string): number; synthesize(t: string, cb: () => number): void } }> }).default;
    const engine = new (await factory()).eSpeakNGWorker();
    engine.set_voice('ru');
    engine.synthesize(CHUNK, () => 0);
    const blocks: number[] = [];
    for (let i = 0; i < 10; i++) {
      const blockStarted = performance.now();
      engine.synthesize(CHUNK, () => 0);
      blocks.push(performance.now() - blockStarted);
    }
    line(`one ${CHUNK.length}-character chunk would block the loop if run in-thread: ${stats(blocks)}`);
  } finally {
    await local.close();
  }
}
