/** Timing statistics for received AudioSocket frames. */
import { FRAME_MS } from '../audio/pcm.js';

/** The `p`-th percentile (0..100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** How evenly frames arrived: deviation of inter-arrival times from 20 ms, and schedule slips. */
export interface JitterStats {
  frames: number;
  /** Inter-arrival deviation from 20 ms, ms. */
  p50: number;
  p99: number;
  max: number;
  /** Frames that arrived more than `earlyToleranceMs` before their slot: sent ahead of real time. */
  early: number;
  /** Times the stream fell more than one frame behind its schedule (the line heard a gap). */
  late: number;
  /** Frame slots that passed with nothing received, summed over those gaps. */
  lost: number;
}

/** Tolerances for `jitterStats`. */
export interface JitterOptions {
  earlyToleranceMs?: number;
  lateToleranceMs?: number;
}

/**
 * Jitter of a frame stream from arrival times (ms, ascending). The schedule is anchored on the
 * earliest of the first frames (arrival − 20 ms × index) and moves later only when the stream falls
 * behind, as a paced sender re-anchors; frames ahead of it are early.
 */
export function jitterStats(arrivals: ArrayLike<number>, options: JitterOptions = {}): JitterStats {
  const earlyTol = options.earlyToleranceMs ?? 10;
  const lateTol = options.lateToleranceMs ?? FRAME_MS;
  const n = arrivals.length;
  const deviations = new Float64Array(Math.max(0, n - 1));
  for (let i = 1; i < n; i++) deviations[i - 1] = Math.abs(arrivals[i]! - arrivals[i - 1]! - FRAME_MS);
  let anchor = Infinity;
  for (let i = 0; i < Math.min(n, 10); i++) anchor = Math.min(anchor, arrivals[i]! - i * FRAME_MS);
  let early = 0;
  let late = 0;
  let lost = 0;
  let expected = anchor;
  for (let i = 0; i < n; i++) {
    const at = arrivals[i]!;
    if (at < expected - earlyTol) early++;
    else if (at > expected + lateTol) {
      late++;
      lost += Math.floor((at - expected) / FRAME_MS);
      expected = at;
    }
    expected += FRAME_MS;
  }
  let max = 0;
  for (const d of deviations) max = Math.max(max, d);
  return {
    frames: n,
    p50: n > 1 ? percentile(deviations, 50) : 0,
    p99: n > 1 ? percentile(deviations, 99) : 0,
    max,
    early,
    late,
    lost,
  };
}
