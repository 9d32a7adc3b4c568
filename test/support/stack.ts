/** A whole voice-bot stack on 127.0.0.1: the real server and app, every provider faked by a real local server. */
import { Writable } from 'node:stream';
import type { Clock } from '../../src/call/clock.js';
import { startFakeAri, type FakeAri } from '../fakes/ari-server.js';
import { startFakeDeepgram, type FakeDeepgram, type FakeDeepgramOptions } from '../fakes/deepgram-server.js';
import { startFakeOpenAi, type FakeOpenAi, type FakeOpenAiOptions } from '../fakes/openai-server.js';
import { startFakeVosk, type FakeVosk, type FakeVoskOptions } from '../fakes/vosk-server.js';
import { startFakeYandexStt, type FakeYandexStt, type FakeYandexSttOptions } from '../fakes/yandex-stt-server.js';
import { startFakeYandexTtsHttp, type FakeTtsHttpOptions, type FakeYandexTtsHttp } from '../fakes/yandex-tts-http.js';
import { startFakeYandexTts, type FakeTtsOptions, type FakeYandexTts } from '../fakes/yandex-tts-server.js';
import { createApp, type App } from '../../src/app.js';
import { createAudioSocketServer, type AudioSocketServer } from '../../src/audiosocket/server.js';
import type { CallSummary } from '../../src/call/call-summary.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { noopObserver } from '../../src/metrics/observer.js';
import { closeSharedClients } from '../../src/yandex/grpc.js';

export interface StackOptions {
  /** The recognizer the server uses (default yandex); its fake runs next to the Yandex STT fake. */
  asr?: 'yandex' | 'vosk' | 'deepgram';
  stt?: FakeYandexSttOptions;
  vosk?: FakeVoskOptions;
  deepgram?: FakeDeepgramOptions;
  llm?: FakeOpenAiOptions;
  tts?: Partial<FakeTtsOptions>;
  ttsHttp?: Partial<FakeTtsHttpOptions>;
  ari?: boolean;
  env?: Record<string, string>;
  /** The conversations' time and timers (a `ManualClock` moves only when the test says). */
  clock?: Clock;
}

/** What the app reported to its metrics observer. */
export interface Observed {
  /** performance.now() of each barge-in decision. */
  bargeIns: number[];
  /** `provider:code` of each provider failure. */
  providerErrors: string[];
}

export interface Stack {
  port: number;
  stt: FakeYandexStt;
  /** The fake Vosk server, with `asr: 'vosk'`. */
  vosk: FakeVosk | undefined;
  /** The fake Deepgram server, with `asr: 'deepgram'`. */
  deepgram: FakeDeepgram | undefined;
  llm: FakeOpenAi;
  tts: FakeYandexTts;
  ttsHttp: FakeYandexTtsHttp;
  ari: FakeAri | undefined;
  app: App;
  server: AudioSocketServer;
  /** Every log line, parsed. */
  logs: Record<string, any>[];
  observed: Observed;
  /** Summaries of finished calls. */
  summaries: CallSummary[];
  /** Resolves with the summary of the next call to finish. */
  nextSummary(timeoutMs?: number): Promise<CallSummary>;
  close(): Promise<void>;
}

export const ARI_USER = 'voicebot';
export const ARI_PASSWORD = 'ari-test-secret';

/** Starts the fakes, then the server with the conversation pipeline pointed at them. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const asr = options.asr ?? 'yandex';
  const [stt, vosk, deepgram, llm, tts, ttsHttp, ari] = await Promise.all([
    startFakeYandexStt(options.stt),
    asr === 'vosk' ? startFakeVosk(options.vosk) : Promise.resolve(undefined),
    asr === 'deepgram' ? startFakeDeepgram(options.deepgram) : Promise.resolve(undefined),
    startFakeOpenAi(options.llm),
    startFakeYandexTts(options.tts),
    startFakeYandexTtsHttp(options.ttsHttp),
    options.ari ? startFakeAri({ user: ARI_USER, password: ARI_PASSWORD }) : Promise.resolve(undefined),
  ]);
  const env: Record<string, string> = {
    AUDIOSOCKET_HOST: '127.0.0.1',
    AUDIOSOCKET_PORT: '0',
    HTTP_PORT: '0',
    LOG_LEVEL: 'debug',
    ASR_PROVIDER: asr,
    TTS_PROVIDER: 'yandex',
    YANDEX_API_KEY: 'test-api-key',
    YANDEX_GRPC_TLS: 'false',
    YANDEX_STT_ENDPOINT: stt.endpoint,
    YANDEX_TTS_ENDPOINT: tts.endpoint,
    YANDEX_TTS_HTTP_URL: ttsHttp.url,
    OPENAI_BASE_URL: llm.baseUrl,
    OPENAI_API_KEY: 'sk-test',
    LLM_MODEL: 'test-model',
    // Deadlines a loaded machine stays within: only the tests of a deadline set a short one.
    // A gap in the caller's frames counts as silence only after 4 s: this process, caller and
    // server alike, can stall for seconds on a loaded machine, and a stall is no pause of the caller.
    ASR_SILENCE_FILL_MS: '4000',
    TTS_HEDGE_MS: '10000',
    // Idle probes of warm connections are tested on their own (warm-connections.test.ts).
    LLM_KEEP_WARM_MS: '0',
    YANDEX_TTS_HTTP_KEEP_WARM_MS: '0',
    YANDEX_TTS_TIMEOUT_MS: '60000',
    LLM_FIRST_TOKEN_TIMEOUT_MS: '30000',
    LLM_IDLE_TIMEOUT_MS: '30000',
    ...(vosk ? { VOSK_URL: vosk.url } : {}),
    ...(deepgram ? { DEEPGRAM_URL: deepgram.url, DEEPGRAM_API_KEY: deepgram.apiKey } : {}),
    ...(ari ? { ARI_URL: ari.url, ARI_USER, ARI_PASSWORD, ARI_TIMEOUT_MS: '30000' } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') logs.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger(config.logLevel, sink);
  const summaries: CallSummary[] = [];
  const waiters: ((s: CallSummary) => void)[] = [];
  const observed: Observed = { bargeIns: [], providerErrors: [] };
  const observer = {
    ...noopObserver,
    bargeIn: () => void observed.bargeIns.push(performance.now()),
    providerError: (provider: string, code: string) => void observed.providerErrors.push(`${provider}:${code}`),
  };
  const app = await createApp(config, log, {
    observer,
    clock: options.clock,
    onCallEnd: (summary) => {
      summaries.push(summary);
      waiters.shift()?.(summary);
    },
  });
  const server = createAudioSocketServer({ config: config.audiosocket, log, onCall: app.onCall });
  const address = await server.listen();
  return {
    port: address.port,
    stt,
    vosk,
    deepgram,
    llm,
    tts,
    ttsHttp,
    ari,
    app,
    server,
    logs,
    observed,
    summaries,
    nextSummary(timeoutMs = 90_000) {
      return new Promise((resolve, reject) => {
        // Unref'd: a test that failed before its call ended does not keep the process alive.
        const timer = setTimeout(() => reject(new Error('no call summary in time')), timeoutMs).unref();
        waiters.push((s) => {
          clearTimeout(timer);
          resolve(s);
        });
      });
    },
    async close() {
      await server.close();
      await app.close?.();
      await Promise.all([stt.close(), vosk?.close(), deepgram?.close(), llm.close(), tts.close(), ttsHttp.close(), ari?.close()]);
    },
  };
}

/** Closes the process-wide gRPC channels: once, after every stack of a test file is closed. */
export function closeChannels(): void {
  closeSharedClients();
}
