import { performance } from 'node:perf_hooks';
import { FRAME_MS } from '../audio/pcm.js';

/**
 * Deadlines are served on a 2 ms grid, rounded up: at most 2 ms late and the same amount late for
 * every frame of a call, so its frames stay 20 ms apart. Ten slots per 20 ms frame are at most
 * 500 timer callbacks a second however many calls there are.
 */
const SLOT_MS = 2;
/** Timers fire on a whole-millisecond loop clock: a slot this close to due is served, not re-armed. */
const EARLY_MS = 1;

/** Something the clock calls at its deadline: one playout. `slot` is the clock's bookkeeping. */
export interface ClockEntry {
  slot: number | undefined;
  fire(now: number): void;
}

/** One timer for every playout of the process: each entry waits for its own deadline on the shared grid. */
export class FrameClock {
  /** Entries by slot number (deadline / SLOT_MS, rounded up); an entry moved or cancelled is skipped. */
  readonly #slots = new Map<number, ClockEntry[]>();
  #timer: NodeJS.Timeout | undefined;
  #timerSlot = Infinity;
  #firing = false;

  /** Calls `entry.fire` at `at` (performance.now() time), up to 2 ms later (1 ms early at worst); replaces its earlier deadline. */
  schedule(entry: ClockEntry, at: number): void {
    const slot = Math.ceil(at / SLOT_MS);
    entry.slot = slot;
    const waiting = this.#slots.get(slot);
    if (waiting === undefined) this.#slots.set(slot, [entry]);
    else waiting.push(entry);
    if (!this.#firing && slot < this.#timerSlot) this.#arm(slot);
  }

  /** Forgets the entry's deadline. */
  cancel(entry: ClockEntry): void {
    entry.slot = undefined;
  }

  #arm(slot: number): void {
    clearTimeout(this.#timer);
    this.#timerSlot = slot;
    this.#timer = setTimeout(this.#fire, Math.max(0, slot * SLOT_MS - performance.now()));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#timerSlot = Infinity;
    this.#firing = true;
    try {
      // Slots that fall due meanwhile (an entry behind its deadline) are served in the same turn.
      for (let slot = this.#earliest(); slot * SLOT_MS - EARLY_MS <= performance.now(); slot = this.#earliest()) {
        const entries = this.#slots.get(slot)!;
        this.#slots.delete(slot);
        const now = performance.now();
        for (const entry of entries) {
          if (entry.slot !== slot) continue;
          entry.slot = undefined;
          try {
            entry.fire(now);
          } catch (err) {
            // One call's failure is the process's uncaught error, as with a timer of its own; the others still get their frames.
            process.nextTick(() => {
              throw err;
            });
          }
        }
      }
    } finally {
      this.#firing = false;
      const next = this.#earliest();
      if (next !== Infinity) this.#arm(next);
    }
  };

  #earliest(): number {
    let min = Infinity;
    for (const slot of this.#slots.keys()) if (slot < min) min = slot;
    return min;
  }
}

/** The process's frame clock, shared by every call. */
export const frameClock = new FrameClock();

/**
 * How far a call's clock may fall behind before it re-anchors. A timer that fires a few ms late is
 * caught up on the next ticks (at most two frames back to back, well inside Asterisk's jitter
 * tolerance); a real stall re-anchors rather than bursting, which Asterisk would play fast or a
 * conference mixer would drop.
 */
const MAX_LAG_MS = 2 * FRAME_MS;

/** One call's 20 ms clock on the shared ticker: absolute deadlines from its own phase. */
export class CallClock {
  readonly #onTick: () => void;
  readonly #onReanchor: (lostMs: number) => void;
  readonly #entry: ClockEntry;
  readonly #ticker: FrameClock;
  #next = 0;
  #running = false;

  /** `onTick` writes one frame; `onReanchor` is told of the time a stall skipped. */
  constructor(onTick: () => void, onReanchor: (lostMs: number) => void, ticker: FrameClock = frameClock) {
    this.#onTick = onTick;
    this.#onReanchor = onReanchor;
    this.#ticker = ticker;
    this.#entry = { slot: undefined, fire: (now) => this.#fire(now) };
  }

  /** True while a tick is scheduled. */
  get waiting(): boolean {
    return this.#entry.slot !== undefined;
  }

  /** Ticks now, and every 20 ms from now on: the first frame goes out at once, later ones keep this phase. */
  start(): void {
    this.#running = true;
    this.#ticker.cancel(this.#entry);
    this.#next = performance.now();
    this.#fire(this.#next);
  }

  /** No tick any more. */
  stop(): void {
    this.#running = false;
    this.#ticker.cancel(this.#entry);
  }

  #fire(now: number): void {
    if (!this.#running) return;
    if (now - this.#next > MAX_LAG_MS) {
      this.#onReanchor(now - this.#next);
      this.#next = now;
    }
    this.#onTick();
    if (!this.#running) return;
    this.#next += FRAME_MS;
    this.#ticker.schedule(this.#entry, this.#next);
  }
}
