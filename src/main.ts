import cluster from 'node:cluster';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { runPrimary } from './ops/cluster-primary.js';
import { joinCluster } from './ops/cluster-worker.js';
import { serve } from './serve.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);

if (config.ops.workers === 1) {
  await serve(config, log);
} else if (cluster.isPrimary) {
  await runPrimary(config, log);
} else {
  await serve(config, log.child({ worker: cluster.worker?.id }), joinCluster());
}
