import { createApp } from './app.js';
import { createAudioSocketServer } from './audiosocket/server.js';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics/metrics.js';
import { createCallRecorder } from './ops/call-record.js';
import { startOps } from './ops/ops.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);
const metrics = createMetrics();
const recorder = createCallRecorder(config.ops.callRecord, log.child({ component: 'call-record' }));

let app;
try {
  app = await createApp(config, log, { observer: metrics, onCallEnd: (summary) => recorder.record(summary) });
} catch (err) {
  log.fatal({ err }, 'cannot start the call pipeline');
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
    config: config.ops,
    log,
    server,
    metrics,
    recorder,
    goodbye: (call) => app.goodbye(call),
    beforeExit: [async () => app.close?.()],
    readiness: () => app.readiness(),
  });
  log.info({ host: address.address, port: address.port, httpPort: ops.httpPort, pipeline: app.mode }, 'listening');
} catch (err) {
  log.fatal({ err }, 'cannot listen');
  log.flush();
  process.exit(1);
}
