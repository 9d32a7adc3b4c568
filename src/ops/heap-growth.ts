/**
 * How far V8 lets the old generation grow past what survived the last full collection before it
 * starts the next one. Left to itself V8 picks a factor from how fast it marks against how fast
 * the program allocates; a media server promotes a little on every 20 ms frame and marks fast, so V8
 * settles near its minimum (about 1.1) and runs a full mark-compact every second or so at 100 calls,
 * each a 10–25 ms pause of the event loop on top of its helper threads' marking.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * Fixes the growth at `percent` (100 lets the old generation double before the next full
 * collection); 0 leaves V8's own heuristic. Takes effect from the next collection on, so it is set
 * once at start, before the pipeline loads.
 */
export function applyHeapGrowth(percent: number, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a whole percent ≥ 0, got ${percent}`);
  if (percent === 0) return;
  setFlags(`--heap-growing-percent=${percent}`);
}
