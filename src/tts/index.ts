/** Builds the configured synthesizer: the embedded voice, or Yandex gRPC hedged with the HTTP fallback. */
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import type { YandexConfig } from '../yandex/config.js';
import type { TtsConfig } from './config.js';
import { createHedgedTts } from './hedged.js';
import { createLocalTts } from './local.js';
import type { Tts } from './tts.js';
import { createYandexGrpcTts } from './yandex-grpc.js';
import { createYandexHttpTts } from './yandex-http.js';

export type { Tts, TtsRequest } from './tts.js';
export { synthesizeInOrder, type SynthesizedAudio } from './in-order.js';
export { createPhraseCache, type PhraseCache } from './phrase-cache.js';
export { loadPromptFile } from './prompt-file.js';

/** The process's synthesizer, with start-up and shutdown hooks. */
export interface TtsService extends Tts {
  /** `local` or `yandex`: what the metrics and logs call it. */
  readonly name: string;
  /** Loads what the first synthesis would otherwise wait for (the embedded voice's engine). */
  warmUp(): Promise<void>;
  /** Releases worker threads; gRPC channels are shared and closed with the others. */
  close(): Promise<void>;
}

/** The synthesizer chosen by `TTS_PROVIDER`. Throws `config_invalid` when Yandex has no credentials. */
export function createTts(config: TtsConfig, yandex: YandexConfig, log: Logger, observer: Observer = noopObserver): TtsService {
  if (config.provider === 'local') {
    const local = createLocalTts(config.local, { log });
    log.info({ provider: 'local', voice: config.local.voice, rate: config.local.rate }, 'speech output ready');
    return { name: 'local', synthesize: local.synthesize, warmUp: local.warmUp, close: local.close };
  }
  if (yandex.apiKey === undefined && yandex.iamToken === undefined) {
    throw new VoicebotError('config_invalid', 'TTS_PROVIDER=yandex needs YANDEX_API_KEY or YANDEX_IAM_TOKEN');
  }
  const primary = createYandexGrpcTts(config.yandex, yandex, { log, observer });
  const fallback = createYandexHttpTts(config.yandex, yandex, { log, observer });
  const hedged = createHedgedTts(primary, fallback, { hedgeMs: config.yandex.hedgeMs, log, observer, name: 'yandex-tts' });
  log.info({ provider: 'yandex', voice: config.yandex.voice, endpoint: config.yandex.endpoint, hedgeMs: config.yandex.hedgeMs }, 'speech output ready');
  const keepWarm = (): void => {
    primary.keepWarm?.();
    fallback.keepWarm?.();
  };
  return { name: 'yandex', synthesize: hedged.synthesize, keepWarm, warmUp: async () => {}, close: async () => {} };
}
