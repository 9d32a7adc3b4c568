import { pcmBytes } from '../audio/pcm.js';
import { rms } from '../audio/vad.js';

/** Frames quieter than this RMS (of 32768) count as silence when deciding how to batch audio messages. */
const QUIET_RMS = 200;
/**
 * Voice the recognizer never answered with an EOU (noise it ignored) stops holding frames back
 * after this much quiet: no recognizer ends an utterance that late.
 */
const UNANSWERED_VOICE_MS = 2_000;

/**
 * Batches caller frames into fewer recognizer messages while no utterance can be ending: the
 * frame is quiet, no utterance is open, and all voice since the last EOU has had its EOU. A
 * voiced frame goes out at once with what was held, and from then on every frame goes out alone
 * until the recognizer ends the utterance, so neither its start nor its end waits on a batch.
 */
export class QuietFrames {
  readonly #batchBytes: number;
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** performance.now() of the last voiced frame that has not had its EOU yet. */
  #voiceAt: number | undefined;

  /** `batchMs` of s16le audio at `sampleRate` per message at most; 20 or less sends every frame alone. */
  constructor(sampleRate: number, batchMs: number) {
    this.#batchBytes = pcmBytes(batchMs, sampleRate);
  }

  /** What to send for `frame`: the frame, the held ones with it, or nothing (held for the next). */
  take(frame: Buffer, now: number, utteranceOpen: boolean): Buffer | undefined {
    const quiet = rms(frame) < QUIET_RMS;
    if (!quiet) this.#voiceAt = now;
    else if (this.#voiceAt !== undefined && now - this.#voiceAt >= UNANSWERED_VOICE_MS) this.#voiceAt = undefined;
    const batching = quiet && !utteranceOpen && this.#voiceAt === undefined;
    if (!batching || this.#batchBytes <= frame.length) {
      if (this.#heldBytes === 0) return frame;
      this.#held.push(frame);
      return this.flush();
    }
    this.#held.push(frame);
    this.#heldBytes += frame.length;
    return this.#heldBytes >= this.#batchBytes ? this.flush() : undefined;
  }

  /** The recognizer ended the utterance: the voice before it needs no frame-by-frame audio any more. */
  utteranceEnded(): void {
    this.#voiceAt = undefined;
  }

  /** The held frames as one buffer, if any: they must go out now (a gap is filled, or the audio ended). */
  flush(): Buffer | undefined {
    const held = this.#held;
    if (held.length === 0) return undefined;
    this.#held = [];
    this.#heldBytes = 0;
    return held.length === 1 ? held[0] : Buffer.concat(held);
  }
}
