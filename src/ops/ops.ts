import type { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { OpsConfig } from '../metrics/config.js';
import { createOpsHttpServer, type OpsHttpServer, type Readiness } from '../metrics/http-server.js';
import type { Metrics, ServerStatsSnapshot } from '../metrics/metrics.js';
import type { CallRecorder } from './call-record.js';
import { installDrain, type DrainableCall, type DrainableServer, type InstalledDrain } from './drain.js';

/** Options of `startOps`. */
export interface StartOpsOptions<C extends DrainableCall> {
  config: OpsConfig;
  log: Logger;
  server: DrainableServer<C> & { readonly stats: ServerStatsSnapshot };
  metrics: Metrics;
  /** Its in-flight webhooks get `CALL_WEBHOOK_FLUSH_MS` at the end of a drain. */
  recorder?: CallRecorder;
  /** Readiness besides draining, e.g. a required provider known to be down. */
  readiness?: () => Readiness;
  /** Run once the calls are gone, before the webhooks are flushed, e.g. the app's `close`. */
  beforeExit?: readonly (() => Promise<void>)[];
  /** Ends one call still up when the drain times out (short goodbye, then hang up). */
  goodbye?: (call: C) => void | Promise<void>;
  /** Defaults to `process.exit`. */
  exit?: (code: number) => void;
  /** Defaults to `process`. */
  signals?: Pick<EventEmitter, 'on' | 'off'>;
}

/** The running operations side: the HTTP server (unless HTTP_PORT=0) and the installed drain. */
export interface Ops {
  http: OpsHttpServer | undefined;
  /** Bound port of the HTTP server, undefined when disabled. */
  httpPort: number | undefined;
  drain: InstalledDrain;
}

/**
 * Binds the metrics to the AudioSocket server, starts /metrics /healthz /readyz on HTTP_PORT
 * and installs the SIGTERM/SIGINT drain.
 */
export async function startOps<C extends DrainableCall>(options: StartOpsOptions<C>): Promise<Ops> {
  const { config, log, server, metrics } = options;
  metrics.bindActiveCalls(() => server.activeCalls);
  metrics.bindServerStats(() => server.stats);

  let http: OpsHttpServer | undefined;
  let httpPort: number | undefined;
  if (config.httpPort !== 0) {
    http = createOpsHttpServer({
      host: config.httpHost,
      port: config.httpPort,
      log,
      metrics,
      ...(options.readiness ? { readiness: options.readiness } : {}),
    });
    httpPort = await http.listen();
  }

  const recorder = options.recorder;
  const drain = installDrain<C>({
    server,
    ...(http ? { http } : {}),
    log,
    timeoutMs: config.drainTimeoutMs,
    goodbyeMs: config.drainGoodbyeMs,
    ...(options.goodbye ? { goodbye: options.goodbye } : {}),
    beforeExit: [...(options.beforeExit ?? []), ...(recorder ? [() => recorder.flush(config.webhookFlushMs)] : [])],
    exit: options.exit ?? ((code) => process.exit(code)),
    ...(options.signals ? { signals: options.signals } : {}),
  });
  return { http, httpPort, drain };
}
