import type { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';

/** What a drain needs from one call. */
export interface DrainableCall {
  readonly id: string;
  readonly ended: boolean;
  hangUp(reason?: 'server_closed'): void;
}

/** What a drain needs from the AudioSocket server. */
export interface DrainableServer<C extends DrainableCall> {
  readonly activeCalls: number;
  calls(): C[];
  /** Closes the listener; existing calls continue. */
  stopAccepting(): Promise<void>;
  /** Hangs up whatever is left and resolves when every socket is closed. */
  close(): Promise<void>;
}

/** Options of `createDrain`. */
export interface DrainOptions<C extends DrainableCall> {
  server: DrainableServer<C>;
  /** The ops HTTP server: /readyz turns 503 at once, and it is closed last. */
  http?: { markDraining(): void; close(): Promise<void> };
  log: Logger;
  /** How long active calls may run on before they are ended, ms. */
  timeoutMs: number;
  /** How long the goodbyes of the remaining calls may take before their sockets are closed, ms. */
  goodbyeMs?: number;
  /** Ends one remaining call politely (a short goodbye, then hang up). Default: hang up. */
  goodbye?: (call: C) => void | Promise<void>;
  /** Run after the calls are gone, before exit, e.g. `() => recorder.flush(ms)`. */
  beforeExit?: readonly (() => Promise<void>)[];
  /** Ends the process; injectable so drains can be tested in-process. */
  exit: (code: number) => void;
}

/** A graceful shutdown, started once. */
export interface Drain {
  readonly draining: boolean;
  /** Runs the drain (idempotent) and finally calls `exit(0)`. */
  drain(reason: string): Promise<void>;
}

/** A drain bound to process signals. */
export interface InstalledDrain extends Drain {
  /** Removes the signal listeners. */
  uninstall(): void;
}

/** How often the drain looks at the active-call count, ms. */
const POLL_MS = 50;
/** Upper bound for `server.close()` once every call was asked to end, ms. */
const CLOSE_MS = 2_000;
/** Upper bound for the final log flush, ms. */
const LOG_FLUSH_MS = 1_000;

/**
 * Creates the drain: stop accepting (readiness false, listener closed), let active calls finish
 * for up to `timeoutMs`, end the rest with `goodbye`, run `beforeExit`, flush logs, `exit(0)`.
 */
export function createDrain<C extends DrainableCall>(options: DrainOptions<C>): Drain {
  const log = options.log.child({ component: 'drain' });
  const goodbyeMs = options.goodbyeMs ?? 5_000;
  const goodbye = options.goodbye ?? ((call: C) => call.hangUp('server_closed'));
  let running: Promise<void> | undefined;

  async function waitIdle(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (options.server.activeCalls > 0) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await sleep(Math.min(POLL_MS, left));
    }
    return true;
  }

  async function step(name: string, work: () => Promise<unknown>, ms?: number): Promise<void> {
    try {
      const done = work();
      if (ms === undefined) await done;
      else if ((await Promise.race([done.then(() => 'done'), sleep(ms, 'timeout', { ref: false })])) === 'timeout') {
        log.warn({ step: name, ms }, 'drain step timed out');
      }
    } catch (err) {
      log.error({ err, step: name }, 'drain step failed');
    }
  }

  async function run(reason: string): Promise<void> {
    const started = performance.now();
    log.info({ reason, activeCalls: options.server.activeCalls, timeoutMs: options.timeoutMs }, 'drain started');
    options.http?.markDraining();
    await step('stop accepting', () => options.server.stopAccepting());

    if (!(await waitIdle(options.timeoutMs))) {
      const remaining = options.server.calls().filter((c) => !c.ended);
      log.info({ remaining: remaining.length }, 'drain timeout, ending remaining calls');
      const goodbyeDeadline = performance.now() + goodbyeMs;
      await Promise.all(
        remaining.map((call) =>
          step('goodbye', async () => {
            await goodbye(call);
            if (!call.ended) call.hangUp('server_closed');
          }, goodbyeMs),
        ),
      );
      await waitIdle(goodbyeDeadline - performance.now());
    }
    await step('close audiosocket', () => options.server.close(), CLOSE_MS);
    for (const hook of options.beforeExit ?? []) await step('before exit', hook);
    if (options.http) await step('close http', () => options.http!.close(), CLOSE_MS);
    log.info({ durationMs: Math.round(performance.now() - started) }, 'drain finished');
    await flushLog(options.log);
    options.exit(0);
  }

  return {
    get draining() {
      return running !== undefined;
    },
    drain(reason) {
      running ??= run(reason).catch(async (err: unknown) => {
        log.fatal({ err }, 'drain failed');
        await flushLog(options.log);
        options.exit(1);
      });
      return running;
    },
  };
}

/**
 * Creates a drain and starts it on SIGTERM or SIGINT; a second signal exits at once with 1.
 * `signals` defaults to `process` and can be any emitter (tests).
 */
export function installDrain<C extends DrainableCall>(
  options: DrainOptions<C> & { signals?: Pick<EventEmitter, 'on' | 'off'> },
): InstalledDrain {
  const drain = createDrain(options);
  const emitter = options.signals ?? process;
  const log = options.log.child({ component: 'drain' });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (drain.draining) {
      log.warn({ signal }, 'second signal, exiting now');
      options.log.flush();
      options.exit(1);
      return;
    }
    void drain.drain(signal);
  };
  const handlers = (['SIGTERM', 'SIGINT'] as const).map((signal) => {
    const handler = (): void => onSignal(signal);
    emitter.on(signal, handler);
    return [signal, handler] as const;
  });
  return {
    get draining() {
      return drain.draining;
    },
    drain: (reason) => drain.drain(reason),
    uninstall() {
      for (const [signal, handler] of handlers) emitter.off(signal, handler);
    },
  };
}

/** Flushes the logger, waiting at most a second. */
export function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, LOG_FLUSH_MS);
    try {
      log.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}
