/** Yandex SpeechKit v3 synthesis over gRPC: `Synthesizer.UtteranceSynthesis`, raw PCM at the call's rate. */
import * as grpc from '@grpc/grpc-js';
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import type { YandexConfig } from '../yandex/config.js';
import { authMetadata, isAuthStatus, isRetryableStatus, keepChannelWarm, sharedClient } from '../yandex/grpc.js';
import type { YandexTtsConfig } from './config.js';
import type { Tts, TtsRequest } from './tts.js';

/** The proto file of the v3 synthesizer under `proto/`. */
export const TTS_PROTO = 'yandex/cloud/ai/tts/v3/tts_service.proto';
/** Full name of the v3 synthesizer service. */
export const TTS_SERVICE = 'speechkit.tts.v3.Synthesizer';

/** UtteranceSynthesis accepts at most 250 characters of text per request without unsafe_mode. */
const SAFE_TEXT_CHARS = 250;

/** What the gRPC synthesizer needs besides its settings. */
export interface YandexGrpcTtsDeps {
  log: Logger;
  observer?: Observer;
}

interface SynthesisResponse {
  audio_chunk?: { data?: Buffer } | null;
}

type ServerStream = grpc.ClientReadableStream<SynthesisResponse>;

/** A Tts backed by the Yandex v3 gRPC synthesizer; every call shares the process-wide channel. */
export function createYandexGrpcTts(
  config: YandexTtsConfig,
  yandex: Pick<YandexConfig, 'apiKey' | 'iamToken' | 'folderId' | 'tls'>,
  deps: YandexGrpcTtsDeps,
): Tts {
  const log = deps.log.child({ provider: 'yandex-tts-grpc' });
  const observer = deps.observer ?? noopObserver;

  return {
    keepWarm() {
      keepChannelWarm(TTS_PROTO, TTS_SERVICE, { endpoint: config.endpoint, tls: yandex.tls }, log);
    },
    async *synthesize(text: string, request: TtsRequest): AsyncIterable<Buffer> {
      const { sampleRate, signal } = request;
      if (signal.aborted || text.trim() === '') return;
      const client = sharedClient(TTS_PROTO, TTS_SERVICE, { endpoint: config.endpoint, tls: yandex.tls });
      const hints: Record<string, unknown>[] = [{ voice: config.voice }];
      if (config.role !== undefined) hints.push({ role: config.role });
      if (config.speed !== 1) hints.push({ speed: config.speed });
      const body = {
        model: config.model ?? '',
        text,
        hints,
        output_audio_spec: { raw_audio: { audio_encoding: 'LINEAR16_PCM', sample_rate_hertz: sampleRate } },
        loudness_normalization_type: 'LUFS',
        unsafe_mode: text.length > SAFE_TEXT_CHARS,
      };
      const method = client['UtteranceSynthesis'] as unknown as (req: unknown, md: grpc.Metadata, options: grpc.CallOptions) => ServerStream;
      const call = method.call(client, body, authMetadata(yandex), { deadline: Date.now() + config.timeoutMs });
      const onAbort = (): void => call.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      // An odd byte count in one message must not shift every later sample by a byte.
      let carry: Buffer | undefined;
      try {
        for await (const message of call as AsyncIterable<SynthesisResponse>) {
          if (signal.aborted) return;
          let data = message.audio_chunk?.data;
          if (data === undefined || data.length === 0) continue;
          if (carry !== undefined) {
            data = Buffer.concat([carry, data]);
            carry = undefined;
          }
          if (data.length % 2 === 1) {
            carry = data.subarray(data.length - 1);
            data = data.subarray(0, data.length - 1);
          }
          if (data.length > 0) yield data;
        }
      } catch (err) {
        if (signal.aborted) return;
        const wrapped = wrapGrpcError(err);
        observer.providerError('yandex-tts-grpc', wrapped.code);
        log.debug({ code: wrapped.code, grpcCode: (err as { code?: number }).code, chars: text.length }, 'synthesis failed');
        throw wrapped;
      } finally {
        signal.removeEventListener('abort', onAbort);
        // Leaving early (consumer stopped, abort) must end the server stream too.
        call.cancel();
      }
    },
  };
}

function wrapGrpcError(err: unknown): VoicebotError {
  const code = (err as { code?: number }).code;
  const details = (err as { details?: string }).details ?? (err instanceof Error ? err.message : String(err));
  if (isAuthStatus(code)) return new VoicebotError('tts_auth', `Yandex TTS refused the credentials: ${details}`, { cause: err });
  if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED) {
    return new VoicebotError('tts_unavailable', `Yandex TTS is unavailable: ${details}`, { cause: err });
  }
  return new VoicebotError(isRetryableStatus(code) ? 'tts_unavailable' : 'tts_failed', `Yandex TTS failed: ${details}`, { cause: err });
}
