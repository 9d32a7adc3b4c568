import type { EnvReader } from '../config/env-reader.js';

export interface CallConfig {
  /** Energy VAD: RMS threshold (0–32767) above which a frame counts as voiced. */
  vadThreshold: number;
  /** Silence after voice that ends a caller utterance (echo pipeline), ms. */
  endOfSpeechMs: number;
}

export function readCallConfig(env: EnvReader): CallConfig {
  return {
    vadThreshold: env.int('VAD_THRESHOLD', 500, { min: 1, max: 32767 }),
    endOfSpeechMs: env.int('END_OF_SPEECH_MS', 600, { min: 100 }),
  };
}
