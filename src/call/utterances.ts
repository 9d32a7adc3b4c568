/** Utterance assembly: recognizer events and DTMF digits in, the caller's utterances out. */
import type { AsrEvent } from '../asr/asr.js';
import type { CallTimers, Timer } from './clock.js';
import { letters } from './words.js';

/** A final with no end-of-utterance after it is taken as the whole utterance after this, ms. */
const FINAL_WITHOUT_EOU_MS = 1200;

/** What the assembler reports. */
export interface UtteranceEvents {
  /** The partial of the utterance in progress changed. */
  partial(text: string): void;
  /** A finished utterance with words; `speechEndAt` is when the caller's voice ended. */
  utterance(text: string, speechEndAt: number): void;
  /** An utterance ended with (almost) no words: noise, a cough, an echo. */
  empty(): void;
  /** The DTMF transfer digit was pressed. */
  transferDigit(): void;
}

/** Settings of the assembler. */
export interface UtteranceSettings {
  /** Fewer letters than this make an utterance empty (at least one). */
  minChars: number;
  dtmfTransferDigit: string | undefined;
  /** Digits typed within this gap of each other make one utterance. */
  dtmfCollectMs: number;
}

/** Joins finals into utterances, collects DTMF digits, and times a final that lacks its end. */
export class Utterances {
  readonly #settings: UtteranceSettings;
  readonly #timers: CallTimers;
  readonly #events: UtteranceEvents;
  readonly #speechEndAt: () => number;
  #partial = '';
  #finals: string[] = [];
  #finalTimer: Timer | undefined;
  #digits = '';
  #digitTimer: Timer | undefined;

  constructor(settings: UtteranceSettings, timers: CallTimers, events: UtteranceEvents, speechEndAt: () => number) {
    this.#settings = settings;
    this.#timers = timers;
    this.#events = events;
    this.#speechEndAt = speechEndAt;
  }

  /** The recognizer's partial for the utterance in progress. */
  get partial(): string {
    return this.#partial;
  }

  /** The finals of the utterance in progress, joined. */
  get finals(): string {
    return this.#finals.join(' ');
  }

  /** True while finals wait for their end of utterance. */
  get open(): boolean {
    return this.#finals.length > 0;
  }

  onAsr(event: AsrEvent): void {
    switch (event.type) {
      case 'partial':
        if (event.text === this.#partial) return;
        this.#partial = event.text;
        this.#events.partial(event.text);
        return;
      case 'final':
        this.#finals.push(event.text);
        this.#partial = '';
        this.#finalTimer?.cancel();
        this.#finalTimer = this.#timers.after(FINAL_WITHOUT_EOU_MS, () => this.#end());
        return;
      case 'eou':
        this.#end();
        return;
    }
  }

  onDtmf(digit: string): void {
    if (digit === this.#settings.dtmfTransferDigit) {
      this.#events.transferDigit();
      return;
    }
    this.#digits += digit;
    this.#digitTimer?.cancel();
    if (digit === '#') this.#flushDigits();
    else this.#digitTimer = this.#timers.after(this.#settings.dtmfCollectMs, () => this.#flushDigits());
  }

  #flushDigits(): void {
    const digits = this.#digits;
    this.#digits = '';
    if (digits !== '') this.#events.utterance(`[DTMF] ${digits}`, this.#timers.clock.now());
  }

  #end(): void {
    this.#finalTimer?.cancel();
    const text = this.#finals.join(' ').trim();
    this.#finals = [];
    this.#partial = '';
    if (letters(text) < Math.max(1, this.#settings.minChars)) this.#events.empty();
    else this.#events.utterance(text, this.#speechEndAt());
  }
}
