import type { EnvReader } from '../config/env-reader.js';

export interface TtsConfig {
  provider: 'local' | 'yandex';
}

export function readTtsConfig(env: EnvReader): TtsConfig {
  return { provider: env.oneOf('TTS_PROVIDER', ['local', 'yandex'] as const, 'local') };
}
