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
  /** Frames that arrived over `earlyToleranceMs` ahead of the best 20 ms schedule of the 5 s before: sent ahead of real time. */
  early: number;
  /** Inter-arrival gaps longer than 20 ms + `lateToleranceMs`: the line heard a gap. */
  late: number;
  /** Frame slots between the first and last arrival that nothing filled. */
  lost: number;
}

/** Tolerances for `jitterStats`. */
export interface JitterOptions {
  earlyToleranceMs?: number;
  lateToleranceMs?: number;
}

/**
 * Frames (5 s) over which the best schedule is remembered when judging a frame early: long enough
 * that a receiver starved for a second or two does not make the frames after it look early.
 */
const SCHEDULE_WINDOW = 250;

/**
 * Jitter of a frame stream from arrival times (ms, ascending). A frame is early when it beats the
 * 20 ms schedule implied by the most punctual frame of the previous 5 s, so a receiver stall
 * (late frames, then a batch) does not count, while a sender bursting ahead of real time does.
 */
export function jitterStats(arrivals: ArrayLike<number>, options: JitterOptions = {}): JitterStats {
  const earlyTol = options.earlyToleranceMs ?? 10;
  const lateTol = options.lateToleranceMs ?? FRAME_MS;
  const n = arrivals.length;
  const deviations = new Float64Array(Math.max(0, n - 1));
  let late = 0;
  let max = 0;
  for (let i = 1; i < n; i++) {
    const dt = arrivals[i]! - arrivals[i - 1]!;
    const d = Math.abs(dt - FRAME_MS);
    deviations[i - 1] = d;
    if (d > max) max = d;
    if (dt > FRAME_MS + lateTol) late++;
  }
  // Monotonic deque of indices holding the minimum of (arrival − 20 ms × index) over the window.
  const offsets = new Float64Array(n);
  const deque = new Int32Array(n);
  let head = 0;
  let tail = 0;
  let early = 0;
  for (let i = 0; i < n; i++) {
    offsets[i] = arrivals[i]! - i * FRAME_MS;
    while (tail > head && deque[head]! < i - SCHEDULE_WINDOW) head++;
    if (tail > head && offsets[i]! < offsets[deque[head]!]! - earlyTol) early++;
    while (tail > head && offsets[deque[tail - 1]!]! >= offsets[i]!) tail--;
    deque[tail++] = i;
  }
  const lost = n > 1 ? Math.max(0, Math.round((arrivals[n - 1]! - arrivals[0]!) / FRAME_MS) + 1 - n) : 0;
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
