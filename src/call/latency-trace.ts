import { TRACE_STAGES, type TraceStage } from '../metrics/observer.js';

/** The stages of one turn, in the order they happen. */
export const TURN_STAGES = TRACE_STAGES;

export type TurnStage = TraceStage;

/** One turn's timings: milliseconds from the caller's speech end to each stage. */
export interface TurnLatency {
  turn: number;
  /** Stage → ms after the last voiced inbound frame. */
  stages: Partial<Record<TurnStage, number>>;
  /** Speech end → first reply frame written: what the caller waits. */
  voiceToVoiceMs: number | undefined;
  speculative: boolean;
  interrupted: boolean;
}

/**
 * Per-turn latency trace measured at the socket: caller speech end (last voiced inbound frame)
 * → ASR final → LLM first token → first chunk → TTS first audio → first reply frame written.
 * Timestamps are performance.now() values; only the first mark of each stage counts.
 */
export class TurnTrace {
  readonly turn: number;
  #speechEndAt: number | undefined;
  readonly #marks = new Map<TurnStage, number>();
  speculative = false;
  interrupted = false;

  /** A speculative turn starts before the caller has finished: its speech end comes later. */
  constructor(turn: number, speechEndAt?: number) {
    this.turn = turn;
    this.#speechEndAt = speechEndAt;
  }

  /** Sets the time of the last voiced inbound frame of the utterance this turn answers. */
  setSpeechEnd(at: number): void {
    this.#speechEndAt = at;
  }

  mark(stage: TurnStage, at: number = performance.now()): void {
    if (!this.#marks.has(stage)) this.#marks.set(stage, at);
  }

  has(stage: TurnStage): boolean {
    return this.#marks.has(stage);
  }

  result(): TurnLatency {
    const stages: Partial<Record<TurnStage, number>> = {};
    const origin = this.#speechEndAt ?? this.#marks.get('asr_final');
    for (const stage of TURN_STAGES) {
      const at = this.#marks.get(stage);
      if (origin === undefined) break;
      // A speculative turn may reach a stage before the utterance ended: that costs the caller 0 ms.
      if (at !== undefined) stages[stage] = round(Math.max(0, at - origin));
    }
    return {
      turn: this.turn,
      stages,
      voiceToVoiceMs: stages.first_frame,
      speculative: this.speculative,
      interrupted: this.interrupted,
    };
  }
}

/** Percentile summary of a call's turns, for the log line at call end. */
export function summarizeTurns(turns: readonly TurnLatency[]): { turns: number; voiceToVoiceP50Ms?: number; voiceToVoiceMaxMs?: number } {
  const values = turns.map((t) => t.voiceToVoiceMs).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (values.length === 0) return { turns: turns.length };
  return {
    turns: turns.length,
    voiceToVoiceP50Ms: values[Math.floor((values.length - 1) / 2)]!,
    voiceToVoiceMaxMs: values[values.length - 1]!,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
