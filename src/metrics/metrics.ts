import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TRACE_STAGES, type Observer } from './observer.js';

/** The stages of one turn's latency trace in the order they happen, and the whole wait. */
export const TURN_STAGES = [...TRACE_STAGES, 'voice_to_voice'] as const;

/** One stage name from `TURN_STAGES`. */
export type TurnStage = (typeof TURN_STAGES)[number];

/** Histogram buckets in seconds, dense where a stage should land (5 ms – 5 s). */
export const LATENCY_BUCKETS_S = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5,
];

/**
 * Counters the AudioSocket server keeps on its hot path as plain numbers. Every field is
 * optional so that the metrics follow whatever the server reports.
 */
export interface ServerStatsSnapshot {
  /** Connections accepted since start. */
  accepted?: number;
  /** Connections refused since start, by reason (`allowlist`, `capacity`, `draining`). */
  refused?: Readonly<Record<string, number>>;
  handshakeFailures?: number;
  protocolErrors?: number;
  idleTimeouts?: number;
  writeTimeouts?: number;
  handlerErrors?: number;
  framesIn?: number;
  framesOut?: number;
  /** Paced ticks that found the playout queue empty mid-utterance. */
  underruns?: number;
  /** Paced ticks skipped because the socket was not draining. */
  backpressureSkips?: number;
  /** Times the playout clock fell behind and re-anchored. */
  reanchors?: number;
}

/** The Prometheus side of the process: an `Observer` plus collectors read at scrape time. */
export interface Metrics extends Observer {
  readonly registry: Registry;
  /** Content type of `render()`'s output. */
  readonly contentType: string;
  /** Reads the active-call count at each scrape. */
  bindActiveCalls(read: () => number): void;
  /** Reads the AudioSocket server's counters at each scrape, so the hot path never touches prom-client. */
  bindServerStats(read: () => ServerStatsSnapshot): void;
  /** The exposition text of every metric. */
  render(): Promise<string>;
}

/** Options of `createMetrics`. */
export interface MetricsOptions {
  /** Also export the prom-client default process metrics (CPU, memory, event loop lag). */
  processMetrics?: boolean;
}

/** Builds the Prometheus metrics on a registry of their own. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  let readActive: () => number = () => 0;
  let readStats: () => ServerStatsSnapshot = () => ({});
  const stats = (): ServerStatsSnapshot => {
    try {
      return readStats();
    } catch {
      return {};
    }
  };

  new Gauge({
    name: 'voicebot_active_calls',
    help: 'Calls currently connected.',
    registers: [registry],
    collect() {
      this.set(safeNumber(readActive));
    },
  });
  const calls = new Counter({
    name: 'voicebot_calls_total',
    help: 'Finished calls by outcome and agent.',
    labelNames: ['outcome', 'agent'] as const,
    registers: [registry],
  });
  const turnLatency = new Histogram({
    name: 'voicebot_turn_latency_seconds',
    help: 'Latency of each stage of a turn, measured from the end of the caller utterance.',
    labelNames: ['stage'] as const,
    buckets: LATENCY_BUCKETS_S,
    registers: [registry],
  });
  for (const stage of TURN_STAGES) turnLatency.zero({ stage });
  const providerErrors = new Counter({
    name: 'voicebot_provider_errors_total',
    help: 'Provider failures by provider and error code.',
    labelNames: ['provider', 'code'] as const,
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: 'voicebot_fallbacks_total',
    help: 'Requests that moved to the fallback of a provider.',
    labelNames: ['provider'] as const,
    registers: [registry],
  });
  const hedges = new Counter({
    name: 'voicebot_hedges_total',
    help: 'Hedged requests by provider and by which request won.',
    labelNames: ['provider', 'winner'] as const,
    registers: [registry],
  });
  const bargeIns = new Counter({
    name: 'voicebot_barge_ins_total',
    help: 'Bot turns interrupted by the caller.',
    registers: [registry],
  });

  fromStats('voicebot_connections_accepted_total', 'AudioSocket connections accepted.', (s) => s.accepted);
  fromStats('voicebot_frames_in_total', 'Audio frames received from Asterisk.', (s) => s.framesIn);
  fromStats('voicebot_frames_out_total', 'Audio frames written to Asterisk.', (s) => s.framesOut);
  fromStats('voicebot_playout_underruns_total', 'Paced ticks that found the playout queue empty mid-utterance.', (s) => s.underruns);
  fromStats('voicebot_playout_backpressure_skips_total', 'Paced ticks skipped because the socket was not draining.', (s) => s.backpressureSkips);
  fromStats('voicebot_playout_reanchors_total', 'Times the playout clock fell behind and re-anchored.', (s) => s.reanchors);
  fromStats('voicebot_handshake_failures_total', 'Connections that never sent a valid UUID message.', (s) => s.handshakeFailures);
  fromStats('voicebot_write_timeouts_total', 'Calls ended because the peer stopped reading.', (s) => s.writeTimeouts);
  fromStats('voicebot_protocol_errors_total', 'Calls ended by a malformed AudioSocket message.', (s) => s.protocolErrors);
  fromStats('voicebot_idle_timeouts_total', 'Calls ended because the peer sent nothing for too long.', (s) => s.idleTimeouts);
  fromStats('voicebot_handler_errors_total', 'Calls ended because their handler failed.', (s) => s.handlerErrors);
  new Counter({
    name: 'voicebot_connections_refused_total',
    help: 'AudioSocket connections refused, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const refused = stats().refused ?? {};
      this.reset();
      for (const [reason, count] of Object.entries(refused)) {
        if (Number.isFinite(count) && count > 0) this.inc({ reason }, count);
      }
    },
  });

  function fromStats(name: string, help: string, pick: (s: ServerStatsSnapshot) => number | undefined): void {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const value = pick(stats());
        this.reset();
        if (value !== undefined && Number.isFinite(value) && value > 0) this.inc(value);
      },
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    bindActiveCalls(read) {
      readActive = read;
    },
    bindServerStats(read) {
      readStats = read;
    },
    render() {
      return registry.metrics();
    },
    providerError(provider, code) {
      providerErrors.inc({ provider, code });
    },
    fallback(provider) {
      fallbacks.inc({ provider });
    },
    hedge(provider, winner) {
      hedges.inc({ provider, winner });
    },
    bargeIn() {
      bargeIns.inc();
    },
    turnStage(stage, ms) {
      if (!Number.isFinite(ms) || ms < 0) return;
      turnLatency.observe({ stage }, ms / 1000);
    },
    callEnded(outcome, agent = 'default') {
      calls.inc({ outcome, agent });
    },
  };
}

function safeNumber(read: () => number): number {
  try {
    const value = read();
    return Number.isFinite(value) ? value : 0;
  } catch {
    return 0;
  }
}
