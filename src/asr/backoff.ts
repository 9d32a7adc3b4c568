import type { ReconnectPolicy } from './config.js';

/** Delay before reconnect attempt `attempt` (1-based): exponential, capped, ±50 % jitter. */
export function backoffDelayMs(attempt: number, policy: ReconnectPolicy): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + Math.random()));
}

/**
 * Consecutive reconnect attempts of one recognition: each failure schedules the next attempt
 * after a backoff delay until the policy's attempts are used up; an answer from the service
 * starts the count again.
 */
export class Reconnector {
  readonly #policy: ReconnectPolicy;
  #attempts = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(policy: ReconnectPolicy) {
    this.#policy = policy;
  }

  /** The service answered: the next failure is the first again. */
  reset(): void {
    this.#attempts = 0;
  }

  /** Schedules `connect` after the next delay; undefined when no attempt is left. */
  schedule(connect: () => void): { attempt: number; delayMs: number } | undefined {
    this.#attempts += 1;
    if (this.#attempts > this.#policy.attempts) return undefined;
    const delayMs = backoffDelayMs(this.#attempts, this.#policy);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      connect();
    }, delayMs);
    return { attempt: this.#attempts, delayMs };
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
