import { createApp } from './app.js';
import { groupServers } from './audiosocket/server-group.js';
import { createAudioSocketServer } from './audiosocket/server.js';
import { loadConfig, type Config } from './config.js';
import { VoicebotError } from './errors.js';
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
  // A bad agents file is reported like a bad environment: every problem, one per line.
  if (err instanceof VoicebotError && err.code === 'config_invalid') process.stderr.write(`${err.message}\n`);
  else log.fatal({ err }, 'cannot start the call pipeline');
  log.flush();
  process.exit(2);
}

const audiosocketLog = log.child({ component: 'audiosocket' });
const main = createAudioSocketServer({ config: config.audiosocket, log: audiosocketLog, onCall: app.onCall });
// An agent with its own port takes that port's calls without ARI: one more listener each.
const agentServers = app.agentPorts.map((port) =>
  createAudioSocketServer({ config: { ...config.audiosocket, port }, log: audiosocketLog, onCall: app.onCallAt(port) }),
);
const server = groupServers([main, ...agentServers]);

try {
  const address = await main.listen();
  for (const agentServer of agentServers) await agentServer.listen();
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
  log.info({ host: address.address, port: address.port, agentPorts: app.agentPorts, httpPort: ops.httpPort, pipeline: app.mode }, 'listening');
} catch (err) {
  log.fatal({ err }, 'cannot listen');
  log.flush();
  process.exit(1);
}
