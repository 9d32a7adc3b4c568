import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { hasYandexCredentials, type YandexConfig } from '../yandex/config.js';
import type { Asr } from './asr.js';
import type { AsrConfig } from './config.js';
import { createDeepgramAsr } from './deepgram.js';
import type { AsrObserver } from './stream-session.js';
import { createVoskAsr } from './vosk.js';
import { createYandexAsr } from './yandex.js';

export type { Asr, AsrEvent, AsrSession } from './asr.js';

/** The configured recognizer, or undefined for ASR_PROVIDER=none. */
export function createAsr(asrConfig: AsrConfig, yandexConfig: YandexConfig, log: Logger, observer?: AsrObserver): Asr | undefined {
  switch (asrConfig.provider) {
    case 'none':
      log.info({ provider: 'none' }, 'asr disabled');
      return undefined;
    case 'yandex':
      if (!hasYandexCredentials(yandexConfig)) {
        throw new VoicebotError('config_invalid', 'ASR_PROVIDER=yandex needs YANDEX_API_KEY or YANDEX_IAM_TOKEN');
      }
      log.info({ provider: 'yandex', endpoint: asrConfig.yandex.endpoint, model: asrConfig.yandex.model, language: asrConfig.yandex.language }, 'asr ready');
      return createYandexAsr(asrConfig.yandex, observer === undefined ? { credentials: yandexConfig, log } : { credentials: yandexConfig, observer, log });
    case 'vosk':
      log.info({ provider: 'vosk', url: asrConfig.vosk.url }, 'asr ready');
      return createVoskAsr(asrConfig.vosk, observer === undefined ? {} : { observer });
    case 'deepgram':
      if (asrConfig.deepgram.apiKey === '') {
        throw new VoicebotError('config_invalid', 'ASR_PROVIDER=deepgram needs DEEPGRAM_API_KEY');
      }
      log.info({ provider: 'deepgram', url: asrConfig.deepgram.url, model: asrConfig.deepgram.model, language: asrConfig.deepgram.language }, 'asr ready');
      return createDeepgramAsr(asrConfig.deepgram, observer === undefined ? {} : { observer });
  }
}
