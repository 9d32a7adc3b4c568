import { setTimeout as sleep } from 'node:timers/promises';
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ariStatusOf, type AriClient } from './client.js';

/** Deletes the globals ended calls left in Asterisk, a little after each call, retrying while ARI is down. */
export interface GlobalCleanup {
  /** Deletes these globals `delayMs` from now; until then the dialplan can still read them. */
  schedule(names: readonly string[]): void;
  /** Names waiting for deletion. */
  readonly pending: number;
  /** Waits out the delays still running, tries each pending name once, then stops (the drain's last step). */
  close(): Promise<void>;
}

/** What `createGlobalCleanup` needs. */
export interface GlobalCleanupOptions {
  ari: Pick<AriClient, 'deleteGlobalVariable'>;
  /** How long a global outlives its call's socket, ms. */
  delayMs: number;
  log: Logger;
  /** At most this many names wait; beyond it the oldest are given up. */
  maxPending?: number;
  /** First and longest pause between attempts while ARI is unreachable, ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

const MAX_PENDING = 10_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 30_000;

/**
 * Creates the cleanup owned by one ARI client. Names wait in due order, deletions run one at a
 * time, and a failed attempt pauses the whole queue with a doubling backoff. Its timers never keep
 * the process alive. An unreachable ARI is reported once by the client; a refused deletion is
 * not retried and is reported once per run of refusals.
 */
export function createGlobalCleanup(options: GlobalCleanupOptions): GlobalCleanup {
  const { ari, delayMs, log } = options;
  const maxPending = options.maxPending ?? MAX_PENDING;
  const retryMinMs = options.retryMinMs ?? RETRY_MIN_MS;
  const retryMaxMs = options.retryMaxMs ?? RETRY_MAX_MS;
  // name → due time (performance.now()); insertion order is due order, the delay being constant.
  const queue = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let working: Promise<void> | undefined;
  let backoffMs = 0;
  let retryAt = 0;
  let refusalLogged = false;
  let overflowLogged = false;
  let closed = false;

  function first(): [string, number] | undefined {
    const head = queue.entries().next();
    return head.done === true ? undefined : head.value;
  }

  function arm(): void {
    clearTimeout(timer);
    timer = undefined;
    const head = first();
    if (head === undefined || closed || working !== undefined) return;
    const wait = Math.max(head[1], retryAt) - performance.now();
    timer = setTimeout(() => {
      timer = undefined;
      void work(false);
    }, Math.max(0, wait));
    timer.unref();
  }

  /** One attempt; false when ARI is unreachable and the queue must pause. */
  async function attempt(name: string, due: number): Promise<boolean> {
    try {
      await ari.deleteGlobalVariable(name);
      if (queue.get(name) === due) queue.delete(name);
      refusalLogged = false;
      if (backoffMs > 0) {
        backoffMs = 0;
        retryAt = 0;
        log.info({ pending: queue.size }, 'call globals being deleted again');
      }
      return true;
    } catch (err) {
      const fields = { variable: name, code: err instanceof VoicebotError ? err.code : 'unknown', status: ariStatusOf(err), reason: err instanceof Error ? err.message : String(err) };
      if (err instanceof VoicebotError && !err.retryable) {
        // A refusal (credentials, a bad name) will not change by asking again.
        if (queue.get(name) === due) queue.delete(name);
        if (refusalLogged) log.debug(fields, 'call global not deleted');
        else log.warn(fields, 'call global not deleted');
        refusalLogged = true;
        return true;
      }
      backoffMs = backoffMs === 0 ? retryMinMs : Math.min(backoffMs * 2, retryMaxMs);
      retryAt = performance.now() + backoffMs;
      log.debug({ ...fields, pending: queue.size, retryInMs: backoffMs }, 'call globals kept until ari answers');
      return false;
    }
  }

  function work(final: boolean): Promise<void> {
    working ??= (async () => {
      for (let head = first(); head !== undefined; head = first()) {
        if (!final && (head[1] > performance.now() || retryAt > performance.now())) break;
        if (!(await attempt(...head)) && (final || closed)) break;
        if (!final && retryAt > performance.now()) break;
      }
    })().finally(() => {
      working = undefined;
      if (queue.size === 0) overflowLogged = false;
      arm();
    });
    return working;
  }

  return {
    schedule(names) {
      if (closed || names.length === 0) return;
      const due = performance.now() + delayMs;
      for (const name of names) {
        queue.delete(name);
        queue.set(name, due);
      }
      let dropped = 0;
      for (let head = first(); head !== undefined && queue.size > maxPending; head = first()) {
        queue.delete(head[0]);
        dropped++;
      }
      if (dropped > 0 && !overflowLogged) {
        overflowLogged = true;
        log.warn({ dropped, maxPending }, 'too many call globals waiting for ari; the oldest stay in asterisk');
      }
      if (timer === undefined) arm();
    },

    get pending() {
      return queue.size;
    },

    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await working;
      const last = [...queue.values()].at(-1);
      if (last !== undefined && last > performance.now()) await sleep(Math.min(last - performance.now(), delayMs));
      await work(true);
      if (queue.size > 0) log.warn({ left: queue.size }, 'call globals left in asterisk: ari unreachable at exit');
      queue.clear();
    },
  };
}
