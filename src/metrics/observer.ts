/**
 * What providers and calls report for metrics. Providers take an optional observer; the
 * Prometheus implementation lives in metrics.ts, and `noopObserver` is used where none is given.
 */
export interface Observer {
  providerError(provider: string, code: string): void;
  fallback(provider: string): void;
  hedge(provider: string, winner: 'primary' | 'fallback'): void;
  bargeIn(): void;
  /** One stage of a turn's latency trace, in milliseconds. */
  turnStage(stage: string, ms: number): void;
  callEnded(outcome: string): void;
}

export const noopObserver: Observer = {
  providerError() {},
  fallback() {},
  hedge() {},
  bargeIn() {},
  turnStage() {},
  callEnded() {},
};
