/** A worker's side of the cluster: signals forwarded by the primary, readiness reports, metrics for aggregation. */
import { EventEmitter } from 'node:events';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Readiness } from '../metrics/http-server.js';
import { isMessage, type SignalMessage, type WorkerMessage } from './cluster-messages.js';

/** How often a worker looks at its readiness; a change is reported at once. */
const READINESS_POLL_MS = 1_000;

/** What a worker's server needs from the cluster. */
export interface ClusterLink {
  /** Emits `SIGTERM`/`SIGINT` for the drain: once for the first request, again for each further one from the primary. */
  readonly signals: Pick<EventEmitter, 'on' | 'off'>;
  /** Serves this registry to the primary's `/metrics` aggregation. */
  shareMetrics(registry: Registry): void;
  /** Tells the primary the worker listens, then reports its readiness whenever it changes. */
  listening(address: { host: string; port: number }, readiness: () => Readiness): void;
}

/**
 * Joins the cluster as a worker. Signals come from the primary: a terminal's Ctrl+C reaches the
 * whole process group, so SIGINT here is left to the primary; a SIGTERM sent to this worker alone
 * drains it, and the primary starts a new one.
 */
export function joinCluster(): ClusterLink {
  // Constructing one makes prom-client answer the primary's metric requests from this process.
  new AggregatorRegistry();
  const signals = new EventEmitter();
  let installed = false;
  let requested = false;
  const request = (signal: SignalMessage['signal']): void => {
    if (requested) return;
    requested = true;
    // Before the drain is installed no call has been accepted: nothing to drain.
    if (!installed) process.exit(0);
    signals.emit(signal);
  };
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => request('SIGTERM'));
  process.on('message', (message: unknown) => {
    if (!isMessage<SignalMessage>(message, 'voicebot:signal')) return;
    if (message.count > 1 && installed) signals.emit(message.signal);
    else request(message.signal);
  });

  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send?.(message);
  };
  return {
    signals,
    shareMetrics(registry) {
      AggregatorRegistry.setRegistries([registry]);
    },
    listening(address, readiness) {
      installed = true;
      send({ type: 'voicebot:listening', host: address.host, port: address.port });
      let last = '';
      const report = (): void => {
        let state: Readiness;
        try {
          state = readiness();
        } catch {
          state = { ready: false, reasons: ['readiness check failed'] };
        }
        const key = JSON.stringify(state);
        if (key === last) return;
        last = key;
        send({ type: 'voicebot:readiness', ready: state.ready, reasons: state.reasons });
      };
      report();
      setInterval(report, READINESS_POLL_MS).unref();
    },
  };
}
