import { rms } from '../audio/vad.js';

/** Frames quieter than this RMS (of 32768) count as silence when deciding how to batch audio messages. */
const QUIET_RMS = 200;
/**
 * After this much quiet with no utterance open, two frames go in one message: no partial, EOU or
 * barge-in waits on that audio, and it halves the message rate of callers who are listening.
 */
const QUIET_BATCH_AFTER_MS = 2_000;

/** Pairs up caller frames during long quiet stretches while no utterance is open. */
export class QuietFrames {
  /** performance.now() when the current run of quiet frames began. */
  #quietSince: number | undefined;
  /** A quiet frame waiting to go out with the next one. */
  #held: Buffer | undefined;

  /** What to send for `frame`: the frame, the held one with it, or nothing (held for the next). */
  take(frame: Buffer, now: number, utteranceOpen: boolean): Buffer | undefined {
    if (!utteranceOpen && rms(frame) < QUIET_RMS) this.#quietSince ??= now;
    else this.#quietSince = undefined;
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      return Buffer.concat([held, frame], held.length + frame.length);
    }
    if (this.#quietSince !== undefined && now - this.#quietSince >= QUIET_BATCH_AFTER_MS) {
      this.#held = frame;
      return undefined;
    }
    return frame;
  }

  /** The held frame, if any: it must go out now (a gap is filled, or the audio ended). */
  flush(): Buffer | undefined {
    const held = this.#held;
    this.#held = undefined;
    return held;
  }
}
