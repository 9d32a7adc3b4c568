import type { ReconnectPolicy } from './config.js';

/** Delay before reconnect attempt `attempt` (1-based): exponential, capped, ±50 % jitter. */
export function backoffDelayMs(attempt: number, policy: ReconnectPolicy): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + Math.random()));
}
