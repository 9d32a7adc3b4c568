import type { BatchSettings } from './audio-batcher.js';
import type { EnvReader } from '../config/env-reader.js';

/** How reconnects after a dropped stream are paced: bounded attempts with jittered backoff. */
export interface ReconnectPolicy {
  /** Consecutive failed attempts before giving up with `asr_unavailable`. */
  attempts: number;
  /** First delay; doubles per attempt up to `maxDelayMs`, with ±50 % jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What every streaming recognition needs: silence filling, batching, the end of audio, stalls and reconnects. */
export interface StreamSettings extends BatchSettings {
  /** No caller audio for this long: the gap is sent as silence (keeps EOU timing and the session alive). */
  silenceFillMs: number;
  /** After the audio ends, how long to wait for the last results before closing the stream. */
  endGraceMs: number;
  /** Audio went out and nothing at all came back for this long: the stream is dead, reconnect. */
  stallTimeoutMs: number;
  reconnect: ReconnectPolicy;
}

/** Yandex SpeechKit v3 streaming recognition settings. */
export interface YandexSttConfig extends StreamSettings {
  endpoint: string;
  model: string;
  language: string;
  textNormalization: boolean;
  eouSensitivity: 'DEFAULT' | 'HIGH';
  /** Hint for the longest pause between words inside one utterance; undefined = server default. */
  maxPauseMs: number | undefined;
  /** Rotate the session at the next pause once it holds this much audio (ms, silence included). */
  rotateAfterMs: number;
  /** Rotate the session at once at this much audio, pause or not (the service stops at 5 min). */
  maxSessionMs: number;
  /** The same two limits in bytes sent (the service stops at 10 MB). */
  rotateAfterBytes: number;
  maxSessionBytes: number;
}

/** Vosk server (WebSocket) settings. */
export interface VoskConfig extends StreamSettings {
  url: string;
}

/** Deepgram live streaming (WebSocket) settings. */
export interface DeepgramConfig extends StreamSettings {
  /** Base URL; the recognizer appends `/v1/listen` and the query. */
  url: string;
  /** Sent as `Authorization: Token <apiKey>`; empty when unset. */
  apiKey: string;
  model: string;
  language: string;
  /** Silence after speech that makes the server finalize (`endpointing`). */
  endpointingMs: number;
  /** Gap after the last word that makes the server send `UtteranceEnd` (`utterance_end_ms`, at least 1000). */
  utteranceEndMs: number;
  /** Nothing sent for this long: send a `KeepAlive` (the server closes after 10 s without data). */
  keepAliveMs: number;
}

export interface AsrConfig {
  provider: 'none' | 'yandex' | 'vosk' | 'deepgram';
  yandex: YandexSttConfig;
  vosk: VoskConfig;
  deepgram: DeepgramConfig;
}

/** Reads ASR_PROVIDER and the YANDEX_STT_* / VOSK_* / DEEPGRAM_* settings. */
export function readAsrConfig(env: EnvReader): AsrConfig {
  const provider = env.oneOf('ASR_PROVIDER', ['none', 'yandex', 'vosk', 'deepgram'] as const, 'none');
  if (provider === 'yandex' && !env.has('YANDEX_API_KEY') && !env.has('YANDEX_IAM_TOKEN')) {
    env.problem('ASR_PROVIDER', 'yandex needs YANDEX_API_KEY or YANDEX_IAM_TOKEN');
  }
  const deepgramKey = env.optionalString('DEEPGRAM_API_KEY') ?? '';
  if (provider === 'deepgram' && deepgramKey === '') {
    env.problem('DEEPGRAM_API_KEY', 'required when ASR_PROVIDER=deepgram');
  } else if (/\s/.test(deepgramKey)) {
    env.problem('DEEPGRAM_API_KEY', 'must not contain whitespace');
  }
  const reconnect: ReconnectPolicy = {
    attempts: env.int('ASR_RECONNECT_ATTEMPTS', 5, { min: 0, max: 100 }),
    baseDelayMs: 100,
    maxDelayMs: 2_000,
  };
  const silenceFillMs = env.int('ASR_SILENCE_FILL_MS', 200, { min: 20, max: 4_000 });
  const quietBatchMs = env.int('ASR_QUIET_BATCH_MS', 200, { min: 20, max: 500 });
  const voiceBatchMs = env.int('ASR_VOICE_BATCH_MS', 60, { min: 20, max: 200 });
  const stream = (stallTimeoutMs: number): StreamSettings => ({ silenceFillMs, quietBatchMs, voiceBatchMs, endGraceMs: 1_500, stallTimeoutMs, reconnect });
  const endpoint = env.string('YANDEX_STT_ENDPOINT', 'stt.api.cloud.yandex.net:443');
  if (!/^[^\s/:]+(:\d{1,5})?$/.test(endpoint) && !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(endpoint)) {
    env.problem('YANDEX_STT_ENDPOINT', `expected host:port, got "${endpoint}"`);
  }
  const maxPause = env.int('YANDEX_STT_MAX_PAUSE_MS', 0, { min: 0, max: 5_000 });
  return {
    provider,
    yandex: {
      endpoint,
      model: env.string('YANDEX_STT_MODEL', 'general'),
      language: env.string('YANDEX_STT_LANGUAGE', 'ru-RU'),
      textNormalization: env.bool('YANDEX_STT_TEXT_NORMALIZATION', true),
      eouSensitivity: env.oneOf('YANDEX_STT_EOU_SENSITIVITY', ['DEFAULT', 'HIGH'] as const, 'DEFAULT'),
      maxPauseMs: maxPause === 0 ? undefined : maxPause,
      // The service ends a session at 5 min of audio or 10 MB: rotate well before either.
      rotateAfterMs: 240_000,
      maxSessionMs: 285_000,
      rotateAfterBytes: 8_000_000,
      maxSessionBytes: 9_500_000,
      // The service sends keep-alive statuses every few seconds even while nobody speaks.
      ...stream(15_000),
    },
    vosk: {
      url: env.url('VOSK_URL', 'ws://127.0.0.1:2700', ['ws:', 'wss:']) ?? 'ws://127.0.0.1:2700',
      ...stream(10_000),
    },
    deepgram: {
      url: env.url('DEEPGRAM_URL', 'wss://api.deepgram.com', ['ws:', 'wss:']) ?? 'wss://api.deepgram.com',
      apiKey: deepgramKey,
      model: env.string('DEEPGRAM_MODEL', 'nova-2'),
      language: env.string('DEEPGRAM_LANGUAGE', 'ru'),
      endpointingMs: env.int('DEEPGRAM_ENDPOINTING_MS', 300, { min: 10, max: 10_000 }),
      utteranceEndMs: env.int('DEEPGRAM_UTTERANCE_END_MS', 1_000, { min: 1_000, max: 10_000 }),
      keepAliveMs: 4_000,
      ...stream(10_000),
    },
  };
}
