/** Speculative replies: a reply started on a stable partial, committed if the final says the same. */
import type { CallTimers, Timer } from './clock.js';
import { letters, normalize } from './words.js';

/** A reply started ahead of the final; only its abort is needed here. */
export interface SpeculativeReply {
  readonly userText: string | undefined;
  abort(outcome: 'discarded'): void;
}

/** The utterance in progress, as the recognizer has it so far. */
export interface RecognizedWords {
  readonly partial: string;
  /** Finals of the utterance already received, joined. */
  readonly finals: string;
}

/** Settings of speculation. */
export interface SpeculationSettings {
  enabled: boolean;
  /** The partial must stay the same and the caller quiet this long, ms. */
  stableMs: number;
}

/**
 * Starts a reply once the caller's words stopped changing and the caller paused (mid-sentence
 * partials would start a model request every few hundred milliseconds), and hands it over when
 * the utterance ends with the same words.
 */
export class Speculation<R extends SpeculativeReply> {
  readonly #settings: SpeculationSettings;
  readonly #timers: CallTimers;
  readonly #words: RecognizedWords;
  readonly #quietSince: () => number;
  readonly #start: (text: string) => R;
  #reply: R | undefined;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(settings: SpeculationSettings, timers: CallTimers, words: RecognizedWords, quietSince: () => number, start: (text: string) => R) {
    this.#settings = settings;
    this.#timers = timers;
    this.#words = words;
    this.#quietSince = quietSince;
    this.#start = start;
  }

  /** The reply in flight, if any. */
  get reply(): R | undefined {
    return this.#reply;
  }

  /** A new partial: a reply to other words is dropped, and one to these is scheduled. */
  onPartial(partial: string): void {
    if (!this.#settings.enabled || this.#stopped) return;
    this.#timer?.cancel();
    if (this.#reply && normalize(this.#reply.userText ?? '') !== normalize(partial)) this.discard();
    if (letters(partial) < 2) return;
    const stable = this.#settings.stableMs;
    const check = (): void => {
      if (this.#words.partial !== partial || this.#reply || this.#stopped) return;
      const quietFor = this.#timers.clock.now() - this.#quietSince();
      if (quietFor < stable) {
        this.#timer = this.#timers.after(stable - quietFor, check);
        return;
      }
      this.#reply = this.#start(`${this.#words.finals} ${partial}`.trim());
    };
    this.#timer = this.#timers.after(stable, check);
  }

  /** The utterance ended: the reply if it answered these words, else undefined (and it is dropped). */
  take(text: string): R | undefined {
    this.#timer?.cancel();
    const reply = this.#reply;
    this.#reply = undefined;
    if (reply && normalize(reply.userText ?? '') === normalize(text)) return reply;
    reply?.abort('discarded');
    return undefined;
  }

  /** Drops the reply in flight and any pending start. */
  discard(): void {
    this.#timer?.cancel();
    this.#reply?.abort('discarded');
    this.#reply = undefined;
  }

  /** No more speculation: the call is ending. */
  stop(): void {
    this.#stopped = true;
    this.discard();
  }
}
