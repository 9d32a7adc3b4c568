import type { EnvReader } from '../config/env-reader.js';

/** Settings of the Yandex SpeechKit synthesizer (gRPC v3 with the HTTP v1 fallback). */
export interface YandexTtsConfig {
  /** gRPC `host:port` of the v3 Synthesizer. */
  endpoint: string;
  /** URL of the v1 REST `tts:synthesize` method, used as the fallback. */
  httpUrl: string;
  voice: string;
  /** Speaking style hint (`neutral`, `good`…); unset sends none. */
  role: string | undefined;
  speed: number;
  /** v3 model name; normally unset. */
  model: string | undefined;
  /** Language for the v1 fallback (`ru-RU`, `en-US`…). */
  lang: string;
  /** Milliseconds the gRPC primary may stay silent before the HTTP fallback is started alongside. */
  hedgeMs: number;
  /** Upper bound on one synthesis request (gRPC deadline, HTTP timeout). */
  timeoutMs: number;
  /** Idle time after which a HEAD request keeps the HTTP fallback's connection open, ms; 0 = none. */
  httpKeepWarmMs: number;
}

/** Settings of the embedded eSpeak NG voice. */
export interface LocalTtsConfig {
  /** eSpeak NG voice name: `ru`, `en-us`, `en`… */
  voice: string;
  /** Speaking rate in words per minute. */
  rate: number;
  /** Worker threads running the engine; one keeps up with about 50 voices in real time. */
  workers: number;
}

/** Speech output settings. */
export interface TtsConfig {
  provider: 'local' | 'yandex';
  /** Chunks of one reply synthesized at the same time (chunk k+1 while chunk k plays). */
  concurrency: number;
  yandex: YandexTtsConfig;
  local: LocalTtsConfig;
}

/** Reads the TTS_*, YANDEX_TTS_* and LOCAL_TTS_* settings. */
export function readTtsConfig(env: EnvReader): TtsConfig {
  const provider = env.oneOf('TTS_PROVIDER', ['local', 'yandex'] as const, 'local');
  if (provider === 'yandex' && !env.has('YANDEX_API_KEY') && !env.has('YANDEX_IAM_TOKEN')) {
    env.problem('TTS_PROVIDER', 'yandex needs YANDEX_API_KEY or YANDEX_IAM_TOKEN');
  }
  return {
    provider,
    concurrency: env.int('TTS_CONCURRENCY', 2, { min: 1, max: 8 }),
    yandex: {
      endpoint: env.string('YANDEX_TTS_ENDPOINT', 'tts.api.cloud.yandex.net:443'),
      httpUrl:
        env.url('YANDEX_TTS_HTTP_URL', 'https://tts.api.cloud.yandex.net/speech/v1/tts:synthesize', ['http:', 'https:']) ??
        'https://tts.api.cloud.yandex.net/speech/v1/tts:synthesize',
      voice: env.string('YANDEX_TTS_VOICE', 'alena'),
      role: env.optionalString('YANDEX_TTS_ROLE'),
      speed: env.number('YANDEX_TTS_SPEED', 1, { min: 0.1, max: 3 }),
      model: env.optionalString('YANDEX_TTS_MODEL'),
      lang: env.string('YANDEX_TTS_LANG', 'ru-RU'),
      hedgeMs: env.int('TTS_HEDGE_MS', 300, { min: 0, max: 10_000 }),
      timeoutMs: env.int('YANDEX_TTS_TIMEOUT_MS', 10_000, { min: 100, max: 120_000 }),
      httpKeepWarmMs: env.int('YANDEX_TTS_HTTP_KEEP_WARM_MS', 30_000, { min: 0, max: 3_600_000 }),
    },
    local: {
      voice: env.string('LOCAL_TTS_VOICE', 'ru'),
      rate: env.int('LOCAL_TTS_RATE', 175, { min: 80, max: 450 }),
      workers: env.int('LOCAL_TTS_WORKERS', 1, { min: 1, max: 16 }),
    },
  };
}
