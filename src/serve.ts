import { createApp } from './app.js';
import { groupServers } from './audiosocket/server-group.js';
import { createAudioSocketServer } from './audiosocket/server.js';
import type { Config } from './config.js';
import { VoicebotError } from './errors.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics/metrics.js';
import { createCallRecorder } from './ops/call-record.js';
import type { ClusterLink } from './ops/cluster-worker.js';
import { startOps } from './ops/ops.js';

/**
 * Runs the server in this process: the call pipeline, the AudioSocket listeners and the operations
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
    // A bad agents file is reported like a bad environment: every problem, one per line.
    if (err instanceof VoicebotError && err.code === 'config_invalid') process.stderr.write(`${err.message}\n`);
    else log.fatal({ err }, 'cannot start the call pipeline');
    log.flush();
    process.exit(2);
  }

  // A call taken before its greeting is synthesized waits that long for its first words.
  await greetingsWithin(app.greetingsReady, config.ops.greetingWaitMs, log);

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
      config: cluster ? { ...config.ops, httpPort: 0 } : config.ops,
      log,
      server,
      metrics,
      recorder,
      goodbye: (call) => app.goodbye(call),
      beforeExit: [async () => app.close?.()],
      readiness: () => app.readiness(),
      ...(cluster ? { signals: cluster.signals } : {}),
    });
    const where = { host: address.address, port: address.port, agentPorts: app.agentPorts, pipeline: app.mode };
    if (cluster) {
      cluster.listening({ host: address.address, port: address.port }, () => (ops.drain.draining ? { ready: false, reasons: ['draining'] } : app.readiness()));
      log.info(where, 'worker listening');
    } else {
      log.info({ ...where, httpPort: ops.httpPort }, 'listening');
    }
  } catch (err) {
    log.fatal({ err }, 'cannot listen');
    log.flush();
    process.exit(1);
  }
}

/** Waits for the greetings at most `waitMs`; past that the server listens anyway and says so. */
async function greetingsWithin(ready: Promise<void>, waitMs: number, log: Logger): Promise<void> {
  if (waitMs <= 0) return;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([ready.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, waitMs, false)))]);
  clearTimeout(timer);
  if (!inTime) log.warn({ waitedMs: waitMs }, 'greeting not synthesized in time (GREETING_WAIT_MS); taking calls, the first ones wait for it');
  else log.debug({ ms: Math.round(performance.now() - started) }, 'greetings ready');
}
