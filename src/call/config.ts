import type { EnvReader } from '../config/env-reader.js';

/** Per-call behaviour settings. */
export interface CallConfig {
  /** Energy VAD: RMS threshold (0–32767) above which a frame counts as voiced. */
  vadThreshold: number;
  /** Silence after voice that ends a caller utterance (echo pipeline), ms. */
  endOfSpeechMs: number;
  /** Longest caller utterance the echo pipeline plays back, ms. */
  echoMaxMs: number;
}

/** Reads VAD_THRESHOLD, END_OF_SPEECH_MS and ECHO_MAX_MS. */
export function readCallConfig(env: EnvReader): CallConfig {
  return {
    vadThreshold: env.int('VAD_THRESHOLD', 500, { min: 1, max: 32767 }),
    endOfSpeechMs: env.int('END_OF_SPEECH_MS', 600, { min: 100 }),
    echoMaxMs: env.int('ECHO_MAX_MS', 10_000, { min: 100, max: 60_000 }),
  };
}
