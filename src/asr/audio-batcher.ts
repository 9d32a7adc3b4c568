import { pcmBytes } from '../audio/pcm.js';
import { rms } from '../audio/vad.js';

/** Frames quieter than this RMS (of 32768, about −44 dBFS) count as silence when deciding how to batch audio messages. */
const QUIET_RMS = 200;
/**
 * Only voice this loud (about −30 dBFS, speech and not line noise) is held back: no recognizer's
 * endpointer takes it for the pause that ends an utterance, so the frame that ends one never waits.
 */
const LOUD_RMS = 1000;
/**
 * Voice the recognizer never answered with an EOU (noise it ignored) stops holding frames back
 * after this much quiet: no recognizer ends an utterance that late.
 */
const UNANSWERED_VOICE_MS = 2_000;

/** How caller frames may be grouped into recognizer messages. */
export interface BatchSettings {
  /** Quiet audio per message while no utterance can be ending, ms (20 or less: every frame alone). */
  quietBatchMs: number;
  /** Voice per message while nothing waits on the recognizer's partials, ms (20 or less: every frame alone). */
  voiceBatchMs: number;
}

/**
 * Batches caller frames into fewer recognizer messages wherever that cannot delay an end of
 * utterance. Quiet frames are held while no utterance can be ending: no utterance is open and all
 * voice since the last EOU has had its EOU. Loud voice is held while `partialsWanted` says no one
 * acts on partials as they come (no reply a barge-in could cut). The first frame that is neither
 * goes out at once with what was held, and from then on every such frame goes out alone until
 * the recognizer ends the utterance, so the end never waits on a batch.
 */
export class AudioBatcher {
  readonly #quietBytes: number;
  readonly #voiceBytes: number;
  readonly #partialsWanted: () => boolean;
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** performance.now() of the last voiced frame that has not had its EOU yet. */
  #voiceAt: number | undefined;

  /** s16le audio at `sampleRate`; without `partialsWanted`, partials are always wanted. */
  constructor(sampleRate: number, settings: BatchSettings, partialsWanted: () => boolean = () => true) {
    this.#quietBytes = pcmBytes(settings.quietBatchMs, sampleRate);
    this.#voiceBytes = pcmBytes(settings.voiceBatchMs, sampleRate);
    this.#partialsWanted = partialsWanted;
  }

  /** What to send for `frame`: the frame, the held ones with it, or nothing (held for the next). */
  take(frame: Buffer, now: number, utteranceOpen: boolean): Buffer | undefined {
    const level = rms(frame);
    const quiet = level < QUIET_RMS;
    if (!quiet) this.#voiceAt = now;
    else if (this.#voiceAt !== undefined && now - this.#voiceAt >= UNANSWERED_VOICE_MS) this.#voiceAt = undefined;
    let limit = 0;
    if (quiet) limit = !utteranceOpen && this.#voiceAt === undefined ? this.#quietBytes : 0;
    else if (level >= LOUD_RMS && !this.#partialsWanted()) limit = this.#voiceBytes;
    if (limit <= frame.length) {
      if (this.#heldBytes === 0) return frame;
      this.#held.push(frame);
      return this.flush();
    }
    this.#held.push(frame);
    this.#heldBytes += frame.length;
    return this.#heldBytes >= limit ? this.flush() : undefined;
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
