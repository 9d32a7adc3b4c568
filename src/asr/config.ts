import type { EnvReader } from '../config/env-reader.js';

export interface AsrConfig {
  provider: 'none' | 'yandex' | 'vosk';
}

export function readAsrConfig(env: EnvReader): AsrConfig {
  return { provider: env.oneOf('ASR_PROVIDER', ['none', 'yandex', 'vosk'] as const, 'none') };
}
