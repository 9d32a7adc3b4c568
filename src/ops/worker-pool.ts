/** The primary's workers: forks them, restarts the ones that crash (rate-limited) and tracks their readiness. */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../logger.js';
import type { Readiness } from '../metrics/http-server.js';
import { isMessage, type ListeningMessage, type ReadinessMessage, type SignalMessage } from './cluster-messages.js';

/** Crashes within this window count towards the restart limit, ms. */
const RESTART_WINDOW_MS = 60_000;
/** Crashes within the window restarted at once; later ones wait, doubling from 1 s. */
const FREE_RESTARTS = 3;
const MAX_RESTART_DELAY_MS = 30_000;

/** A worker that exited before every worker was listening: start-up failed. */
export class WorkerStartError extends Error {
  constructor(readonly workerId: number, readonly exitCode: number) {
    super(`worker ${workerId} exited with ${exitCode} during start-up`);
  }
}

/** The running workers. */
export interface WorkerPool {
  /** The shared AudioSocket address once every worker listens; rejects with a WorkerStartError. */
  readonly started: Promise<{ host: string; port: number }>;
  /** Workers alive now. */
  readonly running: number;
  /** Workers started again after a crash, since start. */
  readonly restarts: number;
  /** Ready only when every worker is up and reports ready. */
  readiness(): Readiness;
  /** Forwards a signal the primary received to every worker. */
  signal(signal: SignalMessage['signal'], count: number): void;
  /** Restarts no more; resolves when every worker has exited, true when each exited 0. Kills those left after `deadlineMs`. */
  stop(deadlineMs: number): Promise<boolean>;
}

interface Slot {
  worker: Worker | undefined;
  readiness: Readiness | undefined;
  restartTimer: NodeJS.Timeout | undefined;
}

/** How long to wait before restarting after a crash at `now`, given the crash times so far (kept updated). */
export function restartDelay(crashes: number[], now: number): number {
  while (crashes.length > 0 && now - crashes[0]! >= RESTART_WINDOW_MS) crashes.shift();
  crashes.push(now);
  const over = crashes.length - FREE_RESTARTS;
  return over <= 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (over - 1));
}

/** Forks `size` workers running this same entry. */
export function startWorkerPool(size: number, log: Logger): WorkerPool {
  const slots: Slot[] = Array.from({ length: size }, () => ({ worker: undefined, readiness: undefined, restartTimer: undefined }));
  const crashes: number[] = [];
  let restarts = 0;
  let startedUp = false;
  let stopping = false;
  let cleanExit = true;
  let onAllExited: (() => void) | undefined;
  let resolveStarted!: (address: { host: string; port: number }) => void;
  let rejectStarted!: (err: WorkerStartError) => void;
  const started = new Promise<{ host: string; port: number }>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  let address: { host: string; port: number } | undefined;
  const listening = new Set<Slot>();

  const running = (): number => slots.filter((s) => s.worker !== undefined).length;

  function fork(slot: Slot): void {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.readiness = undefined;
    worker.on('message', (message: unknown) => {
      if (isMessage<ListeningMessage>(message, 'voicebot:listening')) {
        address ??= { host: message.host, port: message.port };
        listening.add(slot);
        if (!startedUp && listening.size === size) {
          startedUp = true;
          resolveStarted(address);
        }
      } else if (isMessage<ReadinessMessage>(message, 'voicebot:readiness')) {
        slot.readiness = { ready: message.ready, reasons: message.reasons };
      }
    });
    worker.on('exit', (code, signal) => {
      slot.worker = undefined;
      slot.readiness = undefined;
      listening.delete(slot);
      if (stopping) {
        if (code !== 0) cleanExit = false;
        if (running() === 0) onAllExited?.();
        return;
      }
      if (!startedUp) {
        rejectStarted(new WorkerStartError(worker.id, code ?? 1));
        return;
      }
      const restartInMs = restartDelay(crashes, Date.now());
      log.error({ worker: worker.id, pid: worker.process.pid, code, signal, restartInMs }, 'worker exited');
      restarts++;
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (!stopping) fork(slot);
      }, restartInMs);
    });
  }

  for (const slot of slots) fork(slot);

  return {
    started,
    get running() {
      return running();
    },
    get restarts() {
      return restarts;
    },
    readiness() {
      const reasons: string[] = [];
      slots.forEach((slot, i) => {
        const name = slot.worker ? `worker ${slot.worker.id}` : `worker slot ${i + 1}`;
        if (slot.worker === undefined) reasons.push(`${name}: restarting`);
        else if (slot.readiness === undefined) reasons.push(`${name}: starting`);
        else if (!slot.readiness.ready) reasons.push(...slot.readiness.reasons.map((r) => `${name}: ${r}`));
      });
      return { ready: reasons.length === 0, reasons };
    },
    signal(signal, count) {
      const message: SignalMessage = { type: 'voicebot:signal', signal, count };
      for (const slot of slots) if (slot.worker?.isConnected()) slot.worker.send(message);
    },
    stop(deadlineMs) {
      stopping = true;
      for (const slot of slots) {
        clearTimeout(slot.restartTimer);
        slot.restartTimer = undefined;
      }
      if (running() === 0) return Promise.resolve(cleanExit);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          cleanExit = false;
          for (const slot of slots) {
            if (slot.worker) log.error({ worker: slot.worker.id, deadlineMs }, 'worker still running after the drain, killed');
            slot.worker?.process.kill('SIGKILL');
          }
        }, deadlineMs);
        onAllExited = () => {
          clearTimeout(timer);
          resolve(cleanExit);
        };
      });
    },
  };
}
