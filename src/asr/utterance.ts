import type { Logger } from '../logger.js';
import type { AsrEvent } from './asr.js';
import type { EventQueue } from './event-queue.js';

/**
 * The caller's current utterance as the service reports it, turned into AsrEvents: a partial only
 * when its text changes, finals as they come, and one EOU per utterance that produced any text.
 */
export class Utterance {
  readonly #events: EventQueue<AsrEvent>;
  readonly #log: Logger;
  /** A partial with text arrived and the utterance has not reached its EOU yet. */
  #speaking = false;
  /** A final was reported and its EOU has not been yet. */
  #finalBeforeEou = false;
  #lastPartial = '';

  constructor(events: EventQueue<AsrEvent>, log: Logger) {
    this.#events = events;
    this.#log = log;
  }

  /** Speech is in progress or awaits its EOU: the audio held for replay may carry it. */
  get open(): boolean {
    return this.#speaking || this.#finalBeforeEou;
  }

  partial(text: string): void {
    if (text === '' || text === this.#lastPartial) return;
    this.#speaking = true;
    this.#lastPartial = text;
    this.#events.push({ type: 'partial', text });
    this.#log.debug({ text }, 'asr partial');
  }

  final(text: string): void {
    this.#lastPartial = '';
    if (text === '') return;
    this.#finalBeforeEou = true;
    this.#events.push({ type: 'final', text });
    this.#log.debug({ text }, 'asr final');
  }

  /** Partials that end without a final were noise: the EOU still says the caller stopped. */
  end(): void {
    if (this.open) this.#events.push({ type: 'eou' });
    this.#speaking = false;
    this.#finalBeforeEou = false;
    this.#lastPartial = '';
  }

  /**
   * The connection that heard this utterance is left for a new one. An utterance still in progress
   * stays open (its audio is replayed); one that had its final gets its EOU now, because the new
   * connection never hears that audio.
   */
  leave(): void {
    if (this.#finalBeforeEou) this.end();
    this.#lastPartial = '';
  }
}
