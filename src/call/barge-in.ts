/** When the caller's speech stops the bot, and when a cut turns out to have been a false alarm. */
import { letters } from './words.js';

/** The barge-in settings of a conversation. */
export interface BargeInSettings {
  enabled: boolean;
  /** Letters the recognizer's partial must carry before the bot is cut. */
  minChars: number;
  /** A cut whose utterance comes back empty within this long resumes the reply, ms. */
  falseAlarmMs: number;
}

/** What the state machine looks at: the bot, the caller's voice, the recognizer. */
export interface BargeInInput {
  /** A committed reply is queued for the caller to hear. */
  botAudible: boolean;
  /** The caller's voice has lasted long enough (the voice detector's `speaking`). */
  speaking: boolean;
  /** The recognizer's partial for the utterance in progress. */
  partial: string;
}

/** What to do with a cut reply once the caller's utterance is known. */
export type CutOutcome = 'stands' | 'resume' | 'expired';

/**
 * Barge-in as a pure state machine: inputs in, decisions out, time passed in by the caller.
 * `idle` → `cut` when voice and words come over an audible reply; `cut` → `idle` when the
 * utterance is known: words confirm the cut, an empty one resumes the reply if soon enough.
 */
export class BargeIn {
  readonly #settings: BargeInSettings;
  #cutAt: number | undefined;

  constructor(settings: BargeInSettings) {
    this.#settings = settings;
  }

  /** True while a cut waits for its utterance. */
  get pending(): boolean {
    return this.#cutAt !== undefined;
  }

  /** True when the bot must stop now; the caller then calls `cut`. */
  shouldCut(input: BargeInInput): boolean {
    if (!this.#settings.enabled || !input.botAudible || !input.speaking) return false;
    return letters(input.partial) >= this.#settings.minChars;
  }

  /** Records a cut made at `now`. */
  cut(now: number): void {
    this.#cutAt = now;
  }

  /** The utterance after a cut: with words the cut stands; empty, it resumes within the window. */
  settle(hadWords: boolean, now: number): CutOutcome | undefined {
    const at = this.#cutAt;
    if (at === undefined) return undefined;
    this.#cutAt = undefined;
    if (hadWords) return 'stands';
    return now - at <= this.#settings.falseAlarmMs ? 'resume' : 'expired';
  }
}
