/** An HTTP connection pool for one provider that stays connected while idle: keep-alive sockets and a cheap request now and then. */
import { Agent } from 'undici';
import type { Logger } from '../logger.js';
import { requestFetch } from './request-fetch.js';

/** Settings of `createWarmHttp`. */
export interface WarmHttpOptions {
  /** The provider's name in log lines. */
  provider: string;
  /**
   * Idle time after which `keepWarm` sends its probe again, ms; 0 sends none. Shortened to fit a
   * server that announces a shorter keep-alive (`Keep-Alive: timeout=5`).
   */
  intervalMs: number;
  log: Logger;
}

/** A keep-alive pool (sockets shared process-wide per origin) and the fetch that uses it. */
export interface WarmHttp {
  /** `fetch` through the pool. */
  readonly fetch: typeof globalThis.fetch;
  /**
   * Sends `probe` now and again whenever the pool has been idle for the interval. The probe must be
   * free and harmless (GET /models, HEAD); any HTTP answer counts as connected. A failure is one
   * warning, the recovery one info line; nothing waits for it.
   */
  keepWarm(probe: () => Promise<unknown>): void;
}

/** The pool keeps an idle socket this long beyond the probe interval. */
const IDLE_MARGIN_MS = 5_000;
/** undici drops an idle socket this long before the server's announced keep-alive ends. */
const SERVER_HINT_THRESHOLD_MS = 2_000;
const MIN_INTERVAL_MS = 1_000;
/** One probe may take this long. */
export const PROBE_TIMEOUT_MS = 5_000;

const agents = new Map<number, Agent>();

/** The process-wide agent keeping idle sockets `idleMs`: every pool with that setting shares its connections. */
function sharedAgent(idleMs: number): Agent {
  let agent = agents.get(idleMs);
  if (agent === undefined) {
    agent = new Agent({ keepAliveTimeout: idleMs, keepAliveMaxTimeout: Math.max(idleMs, 600_000) });
    agents.set(idleMs, agent);
  }
  return agent;
}

/** Creates the pool; nothing connects until the first request or `keepWarm`. Idle sockets and timers never hold the process open. */
export function createWarmHttp(options: WarmHttpOptions): WarmHttp {
  const agent = sharedAgent(Math.max(options.intervalMs, MIN_INTERVAL_MS) + IDLE_MARGIN_MS);
  const poolFetch = requestFetch(agent);
  let intervalMs = options.intervalMs;
  let probe: (() => Promise<unknown>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failing = false;

  const arm = (): void => {
    if (probe === undefined || intervalMs <= 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => void sendProbe(), intervalMs);
    timer.unref();
  };

  const fetchThrough = (async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => {
    arm();
    const response = await poolFetch(input, init);
    followServerHint(response.headers.get('keep-alive'));
    arm();
    return response;
  }) as typeof globalThis.fetch;

  function followServerHint(header: string | null): void {
    const seconds = Number(/timeout=(\d+)/i.exec(header ?? '')?.[1]);
    if (!(seconds > 0) || options.intervalMs <= 0) return;
    intervalMs = Math.min(options.intervalMs, Math.max(MIN_INTERVAL_MS, seconds * 1000 - SERVER_HINT_THRESHOLD_MS - 500));
  }

  async function sendProbe(): Promise<void> {
    if (probe === undefined) return;
    try {
      await probe();
      if (failing) options.log.info({ provider: options.provider }, 'provider connection restored');
      failing = false;
    } catch (err) {
      if (!failing) {
        options.log.warn({ provider: options.provider, err: err instanceof Error ? err.message : String(err) }, 'provider connection failed');
      }
      failing = true;
    }
    arm();
  }

  return {
    fetch: fetchThrough,
    keepWarm(next) {
      if (probe !== undefined) return;
      probe = next;
      void sendProbe();
    },
  };
}
