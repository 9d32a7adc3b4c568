import { pcmBytes, pcmDurationMs } from '../audio/pcm.js';

/** One piece of caller audio as sent to a recognizer: PCM bytes or a counted gap of silence. */
export type AudioItem = { kind: 'audio'; data: Buffer } | { kind: 'silence'; ms: number };

/** Never hold more unfinalized audio than this for a replay. */
const MAX_REPLAY_MS = 60_000;
/** With no utterance open, audio sent to the service held no speech: replay at most this much of it. */
const IDLE_REPLAY_MS = 1_000;

/** Duration of one item in milliseconds at `sampleRate` (s16le mono). */
export function audioItemMs(item: AudioItem, sampleRate: number): number {
  return item.kind === 'audio' ? pcmDurationMs(item.data.length, sampleRate) : item.ms;
}

/**
 * Caller audio a recognizer session has not finalized yet, positioned on the session's audio
 * clock: `baseMs` is where the first held item starts. After a reconnect or rotation the items
 * are replayed into the new session, so nothing is lost and nothing finalized is sent twice.
 */
export class PendingAudio {
  readonly #sampleRate: number;
  #items: AudioItem[] = [];
  #durationMs = 0;
  #baseMs = 0;

  constructor(sampleRate: number) {
    this.#sampleRate = sampleRate;
  }

  /** Milliseconds of audio held. */
  get durationMs(): number {
    return this.#durationMs;
  }

  /** Session time where the held audio starts. */
  get baseMs(): number {
    return this.#baseMs;
  }

  /** Duration of one item in milliseconds. */
  itemMs(item: AudioItem): number {
    return audioItemMs(item, this.#sampleRate);
  }

  push(item: AudioItem): void {
    this.#items.push(item);
    this.#durationMs += this.itemMs(item);
    if (this.#durationMs > MAX_REPLAY_MS) this.keepLast(MAX_REPLAY_MS);
  }

  /** The held items, in order, for replay into a new session (which then starts at 0). */
  replay(): readonly AudioItem[] {
    this.#baseMs = 0;
    return this.#items;
  }

  /** Drops everything before session time `ms` (the recognizer finalized it). */
  finalizeTo(ms: number): void {
    this.#dropFront(ms - this.#baseMs);
  }

  /** No utterance is open: keeps only the last second. */
  dropIdle(): void {
    this.keepLast(IDLE_REPLAY_MS);
  }

  /** Keeps only the last `ms` of audio. */
  keepLast(ms: number): void {
    this.#dropFront(this.#durationMs - ms);
  }

  #dropFront(ms: number): void {
    let left = ms;
    while (left > 0 && this.#items.length > 0) {
      const first = this.#items[0]!;
      const firstMs = this.itemMs(first);
      if (firstMs <= left) {
        this.#items.shift();
        this.#take(firstMs);
        left -= firstMs;
        continue;
      }
      if (first.kind === 'silence') {
        this.#items[0] = { kind: 'silence', ms: first.ms - left };
        this.#take(left);
      } else {
        // Cut on a sample boundary.
        const bytes = Math.min(first.data.length, pcmBytes(left, this.#sampleRate));
        this.#items[0] = { kind: 'audio', data: first.data.subarray(bytes) };
        this.#take(pcmDurationMs(bytes, this.#sampleRate));
      }
      break;
    }
  }

  #take(ms: number): void {
    this.#durationMs -= ms;
    this.#baseMs += ms;
    if (this.#items.length === 0) this.#durationMs = 0;
  }
}
