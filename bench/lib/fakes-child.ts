/**
 * Child-process entry for the latency benchmark: starts every provider fake (STT gRPC, OpenAI,
 * TTS gRPC and HTTP) with the settings in FAKES_CONFIG (JSON) and reports their addresses over IPC.
 */
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FakeYandexSttOptions } from '../../test/fakes/yandex-stt-server.js';
import { startFakeYandexStt } from '../../test/fakes/yandex-stt-server.js';
import { startFakeOpenAi, type FakeReply, type TokenStyle } from '../../test/fakes/openai-server.js';
import { startFakeYandexTts, type FakeTtsOptions } from '../../test/fakes/yandex-tts-server.js';
import { startFakeYandexTtsHttp, type FakeTtsHttpOptions } from '../../test/fakes/yandex-tts-http.js';
import { lateMs, LOOP_SAMPLE_MS } from './loop-lag.js';

/** One scripted model reply, chosen when the caller's last words contain `whenUserSays` (or always). */
export interface FakesReply {
  whenUserSays?: string;
  text: string | string[];
}

/** Settings of all fakes, serializable so they can cross the process boundary. */
export interface FakesConfig {
  /** Recognizer knobs except the text, which `texts` gives. */
  stt: Omit<FakeYandexSttOptions, 'finalText' | 'refine' | 'hang' | 'drop' | 'close'>;
  /** Final text of the n-th utterance of a call: texts[n % texts.length]. */
  texts: string[];
  llm: { firstTokenMs: number; tokenDelayMs: number; tokens?: TokenStyle; replies: FakesReply[] };
  tts: Partial<FakeTtsOptions>;
  ttsHttp: Partial<FakeTtsHttpOptions>;
  /** Advertise large HTTP/2 receive windows on the gRPC fakes instead of Node's 64 KB default. */
  largeGrpcWindow: boolean;
  /** The recognizer, model and synthesizer fakes hold each new connection this long (a remote handshake). */
  connectDelayMs?: number;
}

/** Event-loop delay of the fakes since the previous `lag` request, ms. */
export interface FakesLag {
  type: 'lag';
  p99Ms: number;
  maxMs: number;
}

/** What the child sends once every fake listens. */
export interface FakesReady {
  type: 'ready';
  sttEndpoint: string;
  ttsEndpoint: string;
  ttsHttpUrl: string;
  llmBaseUrl: string;
}

const config = JSON.parse(process.env.FAKES_CONFIG ?? 'null') as FakesConfig | null;
if (config === null) {
  process.stderr.write('fakes-child: FAKES_CONFIG is not set\n');
  process.exit(2);
}

/** Receive window of a large-window fake: per stream and per connection. */
const LARGE_WINDOW_BYTES = 16 * 1024 * 1024;

// Node's default HTTP/2 receive window (64 KB per connection) caps what one client connection can
// send per round trip: every call's audio shares one channel, so at hundreds of calls the fake,
// not the server under test, sets the pace. SpeechKit's own servers advertise far larger windows.
// grpc-js reads `http2.createServer` from the CommonJS module at bind time, so wrapping it here works.
if (config.largeGrpcWindow) {
  const http2 = createRequire(import.meta.url)('node:http2') as typeof import('node:http2');
  const original = http2.createServer;
  const wrapped = (options: import('node:http2').ServerOptions, ...rest: unknown[]) => {
    const server = (original as (...args: unknown[]) => import('node:http2').Http2Server)(
      { ...options, settings: { ...options?.settings, initialWindowSize: LARGE_WINDOW_BYTES } },
      ...rest,
    );
    server.on('session', (session) => session.setLocalWindowSize(LARGE_WINDOW_BYTES));
    return server;
  };
  (http2 as { createServer: unknown }).createServer = wrapped;
}

const lastUserText = (body: any): string => {
  const messages = Array.isArray(body?.messages) ? (body.messages as { role?: string; content?: unknown }[]) : [];
  const last = messages.findLast((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : '';
};

const [stt, llm, tts, ttsHttp] = await Promise.all([
  startFakeYandexStt({ ...config.stt, connectDelayMs: config.connectDelayMs ?? 0, finalText: (u) => config.texts[u.utterance % config.texts.length] ?? '' }),
  startFakeOpenAi({
    firstTokenMs: config.llm.firstTokenMs,
    tokenDelayMs: config.llm.tokenDelayMs,
    ...(config.llm.tokens !== undefined ? { tokens: config.llm.tokens } : {}),
    connectDelayMs: config.connectDelayMs ?? 0,
    script: (request): FakeReply => {
      const said = lastUserText(request.body).toLowerCase();
      const reply = config.llm.replies.find((r) => r.whenUserSays === undefined || said.includes(r.whenUserSays.toLowerCase()));
      return { text: reply?.text ?? 'Okay.' };
    },
  }),
  startFakeYandexTts({ ...config.tts, connectDelayMs: config.connectDelayMs ?? 0 }),
  startFakeYandexTtsHttp(config.ttsHttp),
]);

const ready: FakesReady = {
  type: 'ready',
  sttEndpoint: stt.endpoint,
  ttsEndpoint: tts.endpoint,
  ttsHttpUrl: ttsHttp.url,
  llmBaseUrl: llm.baseUrl,
};
const stop = async (): Promise<void> => {
  await Promise.allSettled([stt.close(), llm.close(), tts.close(), ttsHttp.close()]);
  process.exit(0);
};
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
const loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
loop.enable();
process.on('message', (m: { type?: string }) => {
  if (m?.type !== 'lag') return;
  const lag: FakesLag = { type: 'lag', p99Ms: lateMs(loop.percentile(99), LOOP_SAMPLE_MS), maxMs: lateMs(loop.max, LOOP_SAMPLE_MS) };
  loop.reset();
  process.send?.(lag);
});
process.send?.(ready);
