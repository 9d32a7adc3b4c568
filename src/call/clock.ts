/** Time and timers of one call, injectable so that the conversation's parts test without waiting. */
import { performance } from 'node:perf_hooks';

/** A pending callback; `cancel()` is idempotent. */
export interface Timer {
  cancel(): void;
}

/** Monotonic milliseconds and one-shot timers. */
export interface Clock {
  now(): number;
  after(ms: number, fn: () => void): Timer;
}

/** The process clock: performance.now() and setTimeout. */
export const systemClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Timers of one call: none fires after the call's signal aborted, and `cancelAll()` stops the rest. */
export interface CallTimers {
  readonly clock: Clock;
  after(ms: number, fn: () => void): Timer;
  cancelAll(): void;
}

/** Binds `clock` to a call's lifetime. */
export function callTimers(clock: Clock, signal: AbortSignal): CallTimers {
  const pending = new Set<Timer>();
  return {
    clock,
    after(ms, fn) {
      const timer = clock.after(ms, () => {
        pending.delete(timer);
        if (!signal.aborted) fn();
      });
      pending.add(timer);
      return {
        cancel: () => {
          pending.delete(timer);
          timer.cancel();
        },
      };
    },
    cancelAll() {
      for (const timer of pending) timer.cancel();
      pending.clear();
    },
  };
}
