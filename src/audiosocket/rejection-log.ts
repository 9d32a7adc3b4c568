import type { Logger } from '../logger.js';

/** One connection turned away before it became a call. */
export interface Rejection {
  remote: string | undefined;
  /** Why: `handshake_timeout`, `protocol_error`, `closed_early`, or a refusal (`allowlist`, `capacity`, `draining`). */
  reason: string;
  detail?: string;
}

/** Logs rejected connections without letting a flood of them flood the log. */
export interface RejectionLog {
  rejected(rejection: Rejection): void;
  /** Writes the pending summary, if any, and stops the interval timer. */
  close(): void;
}

/**
 * The first rejection of a quiet period is logged at once (one line: a single bad peer is seen
 * at once); the rest of that `intervalMs` window is counted and written as one summary line when
 * the window ends. Every rejection is also logged at debug. Log volume under a connection flood
 * is therefore at most two lines per interval, whatever the rate.
 */
export function createRejectionLog(log: Logger, intervalMs = 10_000): RejectionLog {
  let windowOpen = false;
  let timer: NodeJS.Timeout | undefined;
  let counts: Record<string, number> = {};
  let pending = 0;
  let last: Rejection | undefined;

  const summarize = (): void => {
    timer = undefined;
    if (pending === 0) {
      windowOpen = false;
      return;
    }
    log.warn({ rejected: pending, reasons: counts, lastRemote: last?.remote, intervalMs }, 'connections rejected before their UUID');
    counts = {};
    pending = 0;
    // Keep the window open while the flood goes on.
    timer = setTimeout(summarize, intervalMs).unref();
  };

  return {
    rejected(rejection) {
      log.debug({ remote: rejection.remote, reason: rejection.reason, detail: rejection.detail }, 'connection rejected');
      if (!windowOpen) {
        windowOpen = true;
        log.warn({ remote: rejection.remote, reason: rejection.reason, detail: rejection.detail }, 'connection rejected');
        timer = setTimeout(summarize, intervalMs).unref();
        return;
      }
      pending++;
      counts[rejection.reason] = (counts[rejection.reason] ?? 0) + 1;
      last = rejection;
    },
    close() {
      clearTimeout(timer);
      if (pending > 0) summarize();
      clearTimeout(timer);
      timer = undefined;
      windowOpen = false;
    },
  };
}
