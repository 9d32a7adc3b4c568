/** The bot's recent outbound audio as 5 ms block levels, by absolute block index (time / 5 ms). */
import { SILENT_DB } from './envelope.js';

export class OutboundHistory {
  // A ring of levels, each slot tagged with the block index it holds.
  readonly #level: Float64Array;
  readonly #tag: Float64Array;
  readonly #mask: number;
  readonly #loudDb: number;
  #lastLoud = -Infinity;

  /** Keeps at least `blocks` blocks; a block at or above `loudDb` counts as bot audio. */
  constructor(blocks: number, loudDb: number) {
    let size = 64;
    while (size < blocks) size *= 2;
    this.#level = new Float64Array(size).fill(SILENT_DB);
    this.#tag = new Float64Array(size).fill(-1);
    this.#mask = size - 1;
    this.#loudDb = loudDb;
  }

  /** Index of the newest block of bot audio (-Infinity before any). */
  get lastLoud(): number {
    return this.#lastLoud;
  }

  /** Records `count` levels from block index `first` on; blocks written twice keep the louder level. */
  record(first: number, levels: Float64Array, count: number): void {
    for (let j = 0; j < count; j++) {
      const index = first + j;
      const slot = index & this.#mask;
      const level = levels[j]!;
      if (this.#tag[slot] === index) this.#level[slot] = Math.max(this.#level[slot]!, level);
      else {
        this.#tag[slot] = index;
        this.#level[slot] = level;
      }
      if (level >= this.#loudDb && index > this.#lastLoud) this.#lastLoud = index;
    }
  }

  /** Levels of blocks `top`, `top − 1`, … into `out[0..count)`: silence where nothing was recorded. */
  newestFirst(top: number, count: number, out: Float64Array): void {
    for (let k = 0; k < count; k++) {
      const at = top - k;
      const slot = at & this.#mask;
      // Two stores, not one of a conditional mixing a double and an integer: V8 would box every level.
      if (this.#tag[slot] === at) out[k] = this.#level[slot]!;
      else out[k] = SILENT_DB;
    }
  }
}
