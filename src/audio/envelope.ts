/** Short-time energy envelopes of s16le PCM: levels in dBFS of fixed 5 ms blocks. */
import { sumOfSquares } from './pcm.js';

/** Envelope resolution: four blocks per 20 ms frame. */
export const BLOCK_MS = 5;
/** Level of digital silence (and of blocks with no audio at all), dBFS. */
export const SILENT_DB = -100;

/** Power of a full-scale square wave: levels are dB relative to it. */
const FULL_SCALE_POWER = 32768 * 32768;

/** Blocks of `BLOCK_MS` in `samples` at `sampleRate` (at least one). */
export function blockCount(samples: number, sampleRate: number): number {
  return Math.max(1, Math.round(((samples / sampleRate) * 1000) / BLOCK_MS));
}

/** Writes the level (dBFS) of each block of `pcm` into `out`, which holds `blockCount` entries or more. */
export function blockLevels(pcm: Buffer, sampleRate: number, out: Float64Array): number {
  const samples = pcm.length >> 1;
  const blocks = blockCount(samples, sampleRate);
  for (let b = 0; b < blocks; b++) {
    const from = Math.floor((b * samples) / blocks);
    const to = Math.floor(((b + 1) * samples) / blocks);
    if (to > from) out[b] = decibels(sumOfSquares(pcm, from, to) / (to - from) / FULL_SCALE_POWER);
    else out[b] = SILENT_DB;
  }
  return blocks;
}

/** Power (relative to full scale) of a level in dBFS; 0 for `SILENT_DB`. */
export function power(db: number): number {
  return db <= SILENT_DB ? 0 : 10 ** (db / 10);
}

/** Level in dBFS of a power relative to full scale, never below `SILENT_DB` (−100 dB is a power of 1e-10). */
export function decibels(power: number): number {
  // No branch between the integer SILENT_DB and a double: V8 would box the result.
  return 10 * Math.log10(Math.max(power, 1e-10));
}
