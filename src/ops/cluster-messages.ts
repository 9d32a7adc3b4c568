/** The messages the primary and its workers exchange over the cluster's IPC channel. */
import type { Readiness } from '../metrics/http-server.js';

/** Primary → worker: a signal the primary received; `count` is how many it has received so far. */
export interface SignalMessage {
  type: 'voicebot:signal';
  signal: 'SIGTERM' | 'SIGINT';
  count: number;
}

/** Worker → primary: the AudioSocket listener is up and the drain is installed. */
export interface ListeningMessage {
  type: 'voicebot:listening';
  host: string;
  port: number;
}

/** Worker → primary: the worker's readiness, sent when it changes. */
export interface ReadinessMessage extends Readiness {
  type: 'voicebot:readiness';
}

/** Anything a worker sends the primary. */
export type WorkerMessage = ListeningMessage | ReadinessMessage;

/** True for a message of ours with the given type (prom-client shares the channel). */
export function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
