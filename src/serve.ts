import { createApp } from './app.js';
import { createAudioSocketServer } from './audiosocket/server.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics/metrics.js';
import { createCallRecorder } from './ops/call-record.js';
import type { ClusterLink } from './ops/cluster-worker.js';
import { startOps } from './ops/ops.js';

/**
 * Runs the server in this process: the call pipeline, the AudioSocket listener and the operations
 * side. As a cluster worker it leaves the HTTP port to the primary and follows its signals.
 */
export async function serve(config: Config, log: Logger, cluster?: ClusterLink): Promise<void> {
  const metrics = createMetrics();
  cluster?.shareMetrics(metrics.registry);
  const recorder = createCallRecorder(config.ops.callRecord, log.child({ component: 'call-record' }));

  let app;
  try {
    app = await createApp(config, log, { observer: metrics, onCallEnd: (summary) => recorder.record(summary) });
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start the call pipeline');
    log.flush();
    process.exit(2);
  }

  const server = createAudioSocketServer({
    config: config.audiosocket,
    log: log.child({ component: 'audiosocket' }),
    onCall: app.onCall,
  });

  try {
    const address = await server.listen();
    const ops = await startOps({
      config: cluster ? { ...config.ops, httpPort: 0 } : config.ops,
      log,
      server,
      metrics,
      recorder,
      goodbye: (call) => app.goodbye(call),
      readiness: () => app.readiness(),
      ...(cluster ? { signals: cluster.signals } : {}),
    });
    if (cluster) {
      cluster.listening({ host: address.address, port: address.port }, () => (ops.drain.draining ? { ready: false, reasons: ['draining'] } : app.readiness()));
      log.info({ host: address.address, port: address.port, pipeline: app.mode }, 'worker listening');
    } else {
      log.info({ host: address.address, port: address.port, httpPort: ops.httpPort, pipeline: app.mode }, 'listening');
    }
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot listen');
    log.flush();
    process.exit(1);
  }
}
