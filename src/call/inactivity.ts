/** The caller's silence: one prompt after INACTIVITY_MS, then a goodbye the second time. */
import type { CallTimers, Timer } from './clock.js';

/** What the inactivity watch reports. */
export interface InactivityEvents {
  /** True while the bot or the caller is busy (a reply, an utterance): silence does not count. */
  busy(): boolean;
  prompt(): void;
  giveUp(): void;
}

/**
 * Watches for silence on both sides. `activity()` is cheap enough for every voiced frame: one
 * timer, re-armed lazily when it fires early.
 */
export class Inactivity {
  readonly #ms: number;
  readonly #timers: CallTimers;
  readonly #events: InactivityEvents;
  #timer: Timer | undefined;
  #activityAt = 0;
  #prompts = 0;
  #stopped = false;

  constructor(ms: number, timers: CallTimers, events: InactivityEvents) {
    this.#ms = ms;
    this.#timers = timers;
    this.#events = events;
  }

  /** The caller or the bot did something. */
  activity(): void {
    this.#activityAt = this.#timers.clock.now();
    if (this.#timer !== undefined || this.#stopped) return;
    this.#arm(this.#ms);
  }

  /** The caller spoke: the next silence gets a prompt again. */
  answered(): void {
    this.#prompts = 0;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = this.#timers.after(ms, () => {
      this.#timer = undefined;
      if (this.#stopped) return;
      const quiet = this.#timers.clock.now() - this.#activityAt;
      if (quiet < this.#ms) {
        this.#arm(this.#ms - quiet);
        return;
      }
      if (this.#events.busy()) {
        this.activity();
        return;
      }
      this.#prompts++;
      if (this.#prompts > 1) this.#events.giveUp();
      else this.#events.prompt();
    });
  }
}
