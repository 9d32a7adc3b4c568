import { status as grpcStatus, type ClientDuplexStream, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { VoicebotError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { YandexConfig } from '../yandex/config.js';
import { authMetadata, isAuthStatus, isRetryableStatus, keepChannelWarm, sharedClient, type GrpcTarget } from '../yandex/grpc.js';
import type { Asr } from './asr.js';
import type { YandexSttConfig } from './config.js';
import { streamingAsr, type AsrObserver } from './stream-session.js';
import { streamUnavailable, type Connection, type ConnectionEvents } from './transport.js';
import {
  STT_PROTO, STT_SERVICE,
  type StreamingOptions, type StreamingRequest, type StreamingResponse,
} from './yandex-stt-messages.js';

/** What the Yandex recognizer needs besides its own settings. */
export interface YandexAsrDeps {
  credentials: Pick<YandexConfig, 'apiKey' | 'iamToken' | 'folderId' | 'tls'>;
  observer?: AsrObserver;
  /** For the connection's own faults (calls log to their session's logger). */
  log?: Logger;
}

const SAMPLE_RATES = [8000, 16000, 48000];

/** Yandex SpeechKit v3 streaming recognition over the process-wide gRPC channel. */
export function createYandexAsr(config: YandexSttConfig, deps: YandexAsrDeps): Asr {
  const metadata = authMetadata(deps.credentials);
  const target = { endpoint: config.endpoint, tls: deps.credentials.tls };
  const asr = streamingAsr({
    provider: 'yandex-stt',
    service: 'Yandex SpeechKit',
    settings: config,
    limits: config,
    supportsRate: (rate) => SAMPLE_RATES.includes(rate),
    open: (sampleRate, events) => openRecognizeStream(config, target, metadata, sampleRate, events),
  }, deps.observer);
  return {
    ...asr,
    keepWarm() {
      keepChannelWarm(STT_PROTO, STT_SERVICE, target, (deps.log ?? silentLogger()).child({ provider: 'yandex-stt' }));
    },
  };
}

/** The options sent first in every session: raw PCM at the call's own rate, model, language, EOU. */
export function sessionOptions(config: YandexSttConfig, sampleRate: number): StreamingOptions {
  const options: StreamingOptions = {
    recognition_model: {
      model: config.model,
      audio_format: { raw_audio: { audio_encoding: 'LINEAR16_PCM', sample_rate_hertz: sampleRate, audio_channel_count: 1 } },
      text_normalization: {
        text_normalization: config.textNormalization ? 'TEXT_NORMALIZATION_ENABLED' : 'TEXT_NORMALIZATION_DISABLED',
        profanity_filter: false,
        literature_text: false,
      },
      language_restriction: { restriction_type: 'WHITELIST', language_code: [config.language] },
      audio_processing_type: 'REAL_TIME',
    },
    eou_classifier: { default_classifier: { type: config.eouSensitivity } },
  };
  if (config.maxPauseMs !== undefined) {
    options.eou_classifier.default_classifier.max_pause_between_words_hint_ms = config.maxPauseMs;
  }
  return options;
}

type RecognizeCall = ClientDuplexStream<StreamingRequest, StreamingResponse>;

/** One `RecognizeStreaming` call: it takes audio at once (gRPC buffers the writes). */
function openRecognizeStream(config: YandexSttConfig, target: GrpcTarget, metadata: Metadata, sampleRate: number, events: ConnectionEvents): Connection {
  const client = sharedClient(STT_PROTO, STT_SERVICE, target);
  const call = (client.RecognizeStreaming as unknown as (m: Metadata) => RecognizeCall)(metadata.clone());
  /** Finals waiting for their normalized text, by final index. */
  const unrefined = new Map<number, string>();
  const flush = (): void => {
    for (const text of unrefined.values()) events.final(text);
    unrefined.clear();
  };
  call.on('data', (res: StreamingResponse) => {
    events.answered();
    const cursors = res.audio_cursors;
    switch (res.Event) {
      case 'partial':
        events.partial(res.partial?.alternatives[0]?.text ?? '');
        return;
      case 'final': {
        const finalMs = cursors?.final_time_ms ?? 0;
        if (finalMs > 0) events.finalized(finalMs);
        const text = res.final?.alternatives[0]?.text ?? '';
        if (text !== '' && config.textNormalization) unrefined.set(cursors?.final_index ?? 0, text);
        else events.final(text);
        return;
      }
      case 'final_refinement': {
        const index = res.final_refinement?.final_index ?? 0;
        const raw = unrefined.get(index);
        if (raw === undefined) return;
        for (const [earlier, text] of unrefined) {
          if (earlier >= index) break;
          unrefined.delete(earlier);
          events.final(text);
        }
        unrefined.delete(index);
        const normalized = res.final_refinement?.normalized_text?.alternatives[0]?.text ?? '';
        events.final(normalized === '' ? raw : normalized);
        return;
      }
      case 'eou_update':
        flush();
        events.endOfUtterance();
        return;
      case 'status_code':
        if (res.status_code?.code_type === 'CLOSED') events.ended();
        return;
      default:
        return;
    }
  });
  call.on('error', (err: ServiceError) => events.failed(streamFault(err)));
  call.on('end', () => events.ended());
  call.write({ session_options: sessionOptions(config, sampleRate) });
  events.opened();
  return {
    send: (item) => call.write(item.kind === 'audio' ? { chunk: { data: item.data } } : { silence_chunk: { duration_ms: item.ms } }),
    end: () => call.end(),
    flush,
    close: () => call.cancel(),
  };
}

/** A failed stream as a VoicebotError: refused credentials, a rejected request, or a retryable fault. */
function streamFault(err: ServiceError): VoicebotError {
  const status = `${grpcStatus[err.code] ?? err.code}: ${err.details}`;
  if (isAuthStatus(err.code)) return new VoicebotError('asr_auth', `Yandex SpeechKit refused the credentials (${status})`, { cause: err });
  if (!isRetryableStatus(err.code)) return new VoicebotError('asr_failed', `Yandex SpeechKit rejected the stream (${status})`, { cause: err });
  return streamUnavailable(`the Yandex SpeechKit stream failed (${status})`, err);
}
