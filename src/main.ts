import cluster from 'node:cluster';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { applyHeapGrowth } from './ops/heap-growth.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

// Before the pipeline loads: every process (primary and workers) collects with the same growth.
applyHeapGrowth(config.ops.heapGrowthPercent);
const log = createLogger(config.logLevel);

if (config.ops.workers === 1) {
  const { serve } = await import('./serve.js');
  await serve(config, log);
} else if (cluster.isPrimary) {
  // The primary only supervises: it never loads the call pipeline.
  const { runPrimary } = await import('./ops/cluster-primary.js');
  await runPrimary(config, log);
} else {
  // Joined first, so that the primary's metric requests are answered while the pipeline loads.
  const { joinCluster } = await import('./ops/cluster-worker.js');
  const link = joinCluster();
  const { serve } = await import('./serve.js');
  await serve(config, log.child({ worker: cluster.worker?.id }), link);
}
