/**
 * Event-loop lag as the benches report it. A `monitorEventLoopDelay` histogram records the whole
 * interval between runs of its own timer, so an idle loop sampled every 10 ms reads 10 ms: the
 * sampling interval is taken off, and what is left is how late the loop was.
 */

/** How often the benches' own monitors sample their thread's loop, ms. */
export const LOOP_SAMPLE_MS = 5;
/** The synthesizer bench's finer monitor, ms. */
export const FINE_SAMPLE_MS = 1;

/** prom-client samples `nodejs_eventloop_lag_*` every 10 ms (its default precision, which the server keeps). */
export const PROM_CLIENT_SAMPLE_MS = 10;

/** Lateness in ms from a histogram value in ns, of a monitor sampling every `sampleMs`. */
export function lateMs(intervalNs: number, sampleMs: number): number {
  return Math.max(0, intervalNs / 1e6 - sampleMs);
}
