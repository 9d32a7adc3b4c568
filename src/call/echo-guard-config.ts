import type { EnvReader } from '../config/env-reader.js';

/** Settings of the echo guard: barge-in ignores the bot's own voice coming back on the caller's leg. */
export interface EchoGuardConfig {
  enabled: boolean;
  /** Longest echo delay looked for, from a frame's send time to its echo, ms. */
  maxDelayMs: number;
  /** Inbound energy beyond the predicted echo by this much is the caller's voice, dB. */
  marginDb: number;
  /** Echo loss assumed until the line's echo path is learned, dB. */
  minLossDb: number;
}

/** Reads ECHO_GUARD and ECHO_GUARD_*. */
export function readEchoGuardConfig(env: EnvReader): EchoGuardConfig {
  return {
    enabled: env.bool('ECHO_GUARD', true),
    maxDelayMs: env.int('ECHO_GUARD_MAX_DELAY_MS', 300, { min: 20, max: 1000 }),
    marginDb: env.number('ECHO_GUARD_MARGIN_DB', 3, { min: 0, max: 30 }),
    minLossDb: env.number('ECHO_GUARD_MIN_LOSS_DB', 6, { min: 0, max: 40 }),
  };
}
