/** A clock that moves only when the test says so: the conversation's timers without waiting. */
import type { Clock, Timer } from '../../src/call/clock.js';

interface Pending {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

/** A manual clock; `advance(ms)` fires every timer due by then, in time order. */
export class ManualClock implements Clock {
  #now = 0;
  #pending: Pending[] = [];

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): Timer {
    const entry: Pending = { at: this.#now + Math.max(0, ms), fn, cancelled: false };
    this.#pending.push(entry);
    return { cancel: () => (entry.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing due timers (and timers they set that fall due too). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#pending.filter((p) => !p.cancelled && p.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#pending = this.#pending.filter((p) => p !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = end;
  }

  /** Timers still waiting. */
  get pending(): number {
    return this.#pending.filter((p) => !p.cancelled).length;
  }
}
