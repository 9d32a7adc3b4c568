/** The traced stages of one turn, in the order they happen. */
export const TRACE_STAGES = ['asr_final', 'llm_first_token', 'first_chunk', 'tts_first_audio', 'first_frame'] as const;

/** One traced stage of a turn. */
export type TraceStage = (typeof TRACE_STAGES)[number];

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
  /** `agent` is bounded by the agents file, so the label's cardinality stays low. */
  callEnded(outcome: string, agent?: string): void;
}

export const noopObserver: Observer = {
  providerError() {},
  fallback() {},
  hedge() {},
  bargeIn() {},
  turnStage() {},
  callEnded() {},
};
