import type { EnvReader } from '../config/env-reader.js';

export interface OpsConfig {
  /** Port of the HTTP server for /metrics, /healthz, /readyz; 0 disables it. */
  httpPort: number;
  drainTimeoutMs: number;
}

export function readOpsConfig(env: EnvReader): OpsConfig {
  return {
    httpPort: env.int('HTTP_PORT', 8080, { min: 0, max: 65535 }),
    drainTimeoutMs: env.int('DRAIN_TIMEOUT_MS', 30_000, { min: 0 }),
  };
}
