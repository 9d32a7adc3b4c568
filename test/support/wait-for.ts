/** Waiting for a condition or an event instead of sleeping a fixed time: generous bounds for a loaded machine. */
import { setTimeout as sleep } from 'node:timers/promises';

/** The default bound of a wait: long enough for a machine running several test suites at once. */
export const WAIT_MS = 30_000;

/**
 * Polls `probe` every few milliseconds and resolves with its first value that is not false,
 * undefined or null; rejects naming `what` when `timeoutMs` passes first.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, what = 'condition', timeoutMs = WAIT_MS): Promise<Exclude<T, false | undefined | null>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | undefined | null>;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Resolves as `promise` does, or rejects naming `what` after `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
