/** Energy voice-activity detection on s16le PCM frames. */
import { pcmDurationMs, sumOfSquares } from './pcm.js';

/** Root mean square of the s16le samples in `pcm` (0–32768). */
export function rms(pcm: Buffer): number {
  const samples = pcm.length >> 1;
  return samples === 0 ? 0 : Math.sqrt(sumOfSquares(pcm) / samples);
}

/** Tuning for `EnergyVad`. */
export interface VadOptions {
  /** RMS above which a frame counts as voiced. */
  threshold: number;
  /** Unvoiced audio after voice that ends an utterance, ms. */
  hangoverMs: number;
  /** Voiced audio needed to start an utterance, ms (filters clicks). */
  minSpeechMs?: number;
  /**
   * Before speech starts, unvoiced audio shorter than this does not reset the voiced count, ms
   * (speech has short dips); 0 = any unvoiced frame resets it.
   */
  gapMs?: number;
}

/** What one frame changed: speech started, speech ended, or nothing. */
export type VadEvent = 'start' | 'end' | undefined;

/**
 * RMS threshold with hangover, timed in audio milliseconds. Usable for utterance end-pointing
 * and for barge-in detection; `reset()` ends an utterance that the clock, not audio, timed out.
 */
export class EnergyVad {
  readonly #threshold: number;
  readonly #hangoverMs: number;
  readonly #minSpeechMs: number;
  readonly #gapMs: number;
  #speaking = false;
  #voiced = false;
  #voicedMs = 0;
  #silentMs = 0;

  constructor(options: VadOptions) {
    this.#threshold = options.threshold;
    this.#hangoverMs = options.hangoverMs;
    this.#minSpeechMs = options.minSpeechMs ?? 60;
    this.#gapMs = options.gapMs ?? 0;
  }

  /** True between a 'start' and the following 'end'. */
  get speaking(): boolean {
    return this.#speaking;
  }

  /** True when the last frame was above the threshold. */
  get voiced(): boolean {
    return this.#voiced;
  }

  /** Feeds one frame of s16le PCM at `sampleRate`; returns the transition it caused, if any. */
  push(pcm: Buffer, sampleRate: number): VadEvent {
    const ms = pcmDurationMs(pcm.length, sampleRate);
    const voiced = rms(pcm) >= this.#threshold;
    this.#voiced = voiced;
    if (!this.#speaking) {
      if (voiced) {
        this.#voicedMs += ms;
        this.#silentMs = 0;
      } else {
        this.#silentMs += ms;
        if (this.#silentMs >= this.#gapMs) this.#voicedMs = 0;
      }
      if (this.#voicedMs >= this.#minSpeechMs && (voiced || this.#minSpeechMs === 0)) {
        this.#speaking = true;
        this.#silentMs = 0;
        return 'start';
      }
      return undefined;
    }
    this.#silentMs = voiced ? 0 : this.#silentMs + ms;
    if (this.#silentMs >= this.#hangoverMs) {
      this.reset();
      return 'end';
    }
    return undefined;
  }

  /** Forgets the current state; returns 'end' if an utterance was open. */
  reset(): VadEvent {
    const was = this.#speaking;
    this.#speaking = false;
    this.#voicedMs = 0;
    this.#silentMs = 0;
    return was ? 'end' : undefined;
  }
}
