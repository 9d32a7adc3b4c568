import { availableParallelism } from 'node:os';
import type { EnvReader } from '../config/env-reader.js';

/** Where and how finished calls are reported (CALL_WEBHOOK_*, RECORD_TRANSCRIPTS). */
export interface CallRecordConfig {
  /** Receives one JSON POST per finished call; unset means log only. */
  webhookUrl: string | undefined;
  /** Sent as an HMAC-SHA256 signature of the body in `x-voicebot-signature`; never logged. */
  webhookSecret: string | undefined;
  /** Per-attempt timeout, ms. */
  webhookTimeoutMs: number;
  /** Extra attempts after the first on 5xx, 429 or network errors. */
  webhookRetries: number;
  /** Delay before the first retry, doubled for each further one, ms. */
  webhookBackoffMs: number;
  /** Deliveries allowed in flight at once; records beyond this are dropped with a warning. */
  webhookMaxInFlight: number;
  /** Show only the last digits of the caller's number in records (personal data). */
  maskCallerNumber: boolean;
  /** Include what was said in the record. Off by default: transcripts are personal data. */
  recordTranscripts: boolean;
}

/** Operations settings: worker processes, the HTTP server, graceful drain and call records. */
export interface OpsConfig {
  /** Server processes sharing the AudioSocket port; 1 runs everything in this process. */
  workers: number;
  /** Port of the HTTP server for /metrics, /healthz, /readyz; 0 disables it. */
  httpPort: number;
  /** Bind address of that server; defaults to AUDIOSOCKET_HOST. */
  httpHost: string;
  /** How long active calls may run on after SIGTERM before they are ended, ms. */
  drainTimeoutMs: number;
  /** How long the goodbye of each remaining call may take at the end of a drain, ms. */
  drainGoodbyeMs: number;
  /** How long a drain waits for in-flight call-record webhooks, ms. */
  webhookFlushMs: number;
  /** At start, how long the AudioSocket listener waits for the greetings to be synthesized; 0 listens at once, ms. */
  greetingWaitMs: number;
  /** Old-generation growth allowed between V8's full collections, %; 0 leaves V8's own heuristic. */
  heapGrowthPercent: number;
  callRecord: CallRecordConfig;
}

/** Most worker processes WORKERS may ask for. */
const MAX_WORKERS = 256;

/** Reads WORKERS, HTTP_*, DRAIN_*, GREETING_WAIT_MS, GC_HEAP_GROWTH_PERCENT, CALL_WEBHOOK_* and RECORD_TRANSCRIPTS. */
export function readOpsConfig(env: EnvReader): OpsConfig {
  return {
    workers: readWorkers(env),
    httpPort: env.int('HTTP_PORT', 8080, { min: 0, max: 65535 }),
    httpHost: env.string('HTTP_HOST', env.string('AUDIOSOCKET_HOST', '0.0.0.0')),
    drainTimeoutMs: env.int('DRAIN_TIMEOUT_MS', 30_000, { min: 0 }),
    drainGoodbyeMs: env.int('DRAIN_GOODBYE_MS', 5_000, { min: 0, max: 60_000 }),
    webhookFlushMs: env.int('CALL_WEBHOOK_FLUSH_MS', 3_000, { min: 0, max: 60_000 }),
    greetingWaitMs: env.int('GREETING_WAIT_MS', 3_000, { min: 0, max: 60_000 }),
    heapGrowthPercent: env.int('GC_HEAP_GROWTH_PERCENT', 100, { min: 0, max: 400 }),
    callRecord: {
      webhookUrl: env.url('CALL_WEBHOOK_URL', undefined, ['http:', 'https:']),
      webhookSecret: env.optionalString('CALL_WEBHOOK_SECRET'),
      webhookTimeoutMs: env.int('CALL_WEBHOOK_TIMEOUT_MS', 5_000, { min: 100, max: 120_000 }),
      webhookRetries: env.int('CALL_WEBHOOK_RETRIES', 3, { min: 0, max: 10 }),
      webhookBackoffMs: env.int('CALL_WEBHOOK_BACKOFF_MS', 500, { min: 0, max: 60_000 }),
      webhookMaxInFlight: env.int('CALL_WEBHOOK_MAX_IN_FLIGHT', 100, { min: 1, max: 10_000 }),
      recordTranscripts: env.bool('RECORD_TRANSCRIPTS', false),
      maskCallerNumber: env.bool('RECORD_MASK_CALLER_NUMBER', true),
    },
  };
}

/** WORKERS: a positive integer, or `auto` for one per core this process may use. */
function readWorkers(env: EnvReader): number {
  const value = env.raw('WORKERS');
  if (value === undefined) return 1;
  if (value.toLowerCase() === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > MAX_WORKERS) {
    env.problem('WORKERS', `expected a whole number from 1 to ${MAX_WORKERS} or "auto", got "${value}"`);
    return 1;
  }
  return parsed;
}
