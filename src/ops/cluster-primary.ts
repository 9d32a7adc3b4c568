/** The primary of WORKERS > 1: forks the workers, serves the ops HTTP port for all of them, drains them on a signal. */
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createOpsHttpServer, type OpsHttpServer } from '../metrics/http-server.js';
import type { SignalMessage } from './cluster-messages.js';
import { flushLog } from './drain.js';
import { startWorkerPool, WorkerStartError, type WorkerPool } from './worker-pool.js';

/** Beyond the drain's own budgets, time for closing sockets, flushing logs and exiting, ms. */
const EXIT_MARGIN_MS = 5_000;
/** How long workers get to exit when start-up failed, ms. */
const START_FAILURE_STOP_MS = 5_000;

/**
 * Runs the primary: /metrics aggregated over the workers, /healthz, /readyz (ready when every
 * worker is), and on SIGTERM/SIGINT a drain of every worker, then exit 0; a second signal exits at once.
 */
export async function runPrimary(config: Config, rootLog: Logger): Promise<void> {
  const log = rootLog.child({ component: 'cluster' });
  const ops = config.ops;
  let pool: WorkerPool | undefined;

  let http: OpsHttpServer | undefined;
  let httpPort: number | undefined;
  if (ops.httpPort !== 0) {
    const metrics = clusterMetrics(() => pool);
    http = createOpsHttpServer({
      host: ops.httpHost,
      port: ops.httpPort,
      log: rootLog,
      metrics,
      readiness: () => pool?.readiness() ?? { ready: false, reasons: ['starting'] },
    });
    try {
      httpPort = await http.listen();
    } catch (err) {
      log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot listen');
      await flushLog(rootLog);
      process.exit(1);
    }
  }

  pool = startWorkerPool(ops.workers, log);
  const started = pool;
  let signals = 0;
  const onSignal = (signal: SignalMessage['signal']): void => {
    signals++;
    started.signal(signal, signals);
    if (signals > 1) {
      log.warn({ signal }, 'second signal, exiting now');
      rootLog.flush();
      process.exit(1);
    }
    void drain(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  async function drain(reason: string): Promise<void> {
    const began = performance.now();
    log.info({ reason, workers: started.running }, 'drain started');
    http?.markDraining();
    const clean = await started.stop(ops.drainTimeoutMs + ops.drainGoodbyeMs + ops.webhookFlushMs + EXIT_MARGIN_MS);
    await http?.close();
    log.info({ durationMs: Math.round(performance.now() - began), clean }, 'drain finished');
    await flushLog(rootLog);
    process.exit(clean ? 0 : 1);
  }

  try {
    const address = await started.started;
    log.info({ host: address.host, port: address.port, httpPort, workers: ops.workers }, 'listening');
  } catch (err) {
    if (!(err instanceof WorkerStartError)) throw err;
    log.fatal({ worker: err.workerId, code: err.exitCode }, 'worker failed to start');
    started.signal('SIGTERM', 1);
    await started.stop(START_FAILURE_STOP_MS);
    await http?.close();
    await flushLog(rootLog);
    process.exit(err.exitCode === 0 ? 1 : err.exitCode);
  }
}

/** /metrics of the primary: every worker's metrics aggregated by prom-client, plus the workers' own gauges. */
function clusterMetrics(pool: () => WorkerPool | undefined): { render(): Promise<string>; readonly contentType: string } {
  const aggregator = new AggregatorRegistry();
  const own = new Registry();
  new Gauge({
    name: 'voicebot_workers',
    help: 'Worker processes running.',
    registers: [own],
    collect() {
      this.set(pool()?.running ?? 0);
    },
  });
  new Counter({
    name: 'voicebot_worker_restarts_total',
    help: 'Workers started again after a crash.',
    registers: [own],
    collect() {
      this.reset();
      const restarts = pool()?.restarts ?? 0;
      if (restarts > 0) this.inc(restarts);
    },
  });
  return {
    contentType: own.contentType,
    async render() {
      const [workers, primary] = await Promise.all([aggregator.clusterMetrics(), own.metrics()]);
      return `${workers.trimEnd()}\n${primary}`;
    },
  };
}
