/** The audio waiting to be played in one call, at the wire rate, and how much of each tag was heard. */
import { pcmDurationMs } from '../audio/pcm.js';
import { resample } from '../audio/resample.js';

/** How much of a tag the caller heard. */
export interface TagPlayed {
  tag: string;
  playedMs: number;
  /** Audio of this tag that was queued but dropped by `clear()`, ms. */
  droppedMs: number;
}

interface Segment {
  buf: Buffer;
  offset: number;
  tag: string | undefined;
}

interface TagState {
  playedMs: number;
  started: boolean;
}

/** Tags remembered for `playedMs`; the oldest are forgotten first. */
const MAX_TAGS = 256;

/** A FIFO of PCM segments with per-tag accounting of what was taken (played). */
export class AudioQueue {
  #segments: Segment[] = [];
  #bytes = 0;
  readonly #tags = new Map<string, TagState>();

  /** Bytes queued and not yet taken. */
  get bytes(): number {
    return this.#bytes;
  }

  push(buf: Buffer, tag: string | undefined): void {
    if (buf.length === 0) return;
    this.#segments.push({ buf, offset: 0, tag });
    this.#bytes += buf.length;
    if (tag !== undefined && !this.#tags.has(tag)) {
      this.#tags.set(tag, { playedMs: 0, started: false });
      if (this.#tags.size > MAX_TAGS) this.#tags.delete(this.#tags.keys().next().value!);
    }
  }

  /**
   * Copies up to `need` bytes into `target` at `offset` and counts them as played at `rate`.
   * Returns the bytes copied and the tags whose first audio this was.
   */
  take(target: Buffer, offset: number, need: number, rate: number): { filled: number; started: string[] | undefined } {
    let filled = 0;
    let started: string[] | undefined;
    while (filled < need && this.#segments.length > 0) {
      const seg = this.#segments[0]!;
      const n = Math.min(need - filled, seg.buf.length - seg.offset);
      seg.buf.copy(target, offset + filled, seg.offset, seg.offset + n);
      seg.offset += n;
      filled += n;
      const state = seg.tag === undefined ? undefined : this.#tags.get(seg.tag);
      if (state) {
        state.playedMs += pcmDurationMs(n, rate);
        if (!state.started) {
          state.started = true;
          (started ??= []).push(seg.tag!);
        }
      }
      if (seg.offset >= seg.buf.length) this.#segments.shift();
    }
    this.#bytes -= filled;
    return { filled, started };
  }

  /** Drops everything queued; reports, per tag, what was heard and what was dropped. */
  clear(rate: number): TagPlayed[] {
    const dropped = new Map<string, number>();
    for (const seg of this.#segments) {
      if (seg.tag !== undefined) dropped.set(seg.tag, (dropped.get(seg.tag) ?? 0) + seg.buf.length - seg.offset);
    }
    this.#segments = [];
    this.#bytes = 0;
    return [...dropped].map(([tag, bytes]) => ({ tag, playedMs: this.playedMs(tag), droppedMs: pcmDurationMs(bytes, rate) }));
  }

  /** Converts what is queued to another rate: it keeps its pitch and length, segment by segment. */
  resample(fromRate: number, toRate: number): void {
    this.#bytes = 0;
    for (const seg of this.#segments) {
      seg.buf = resample(seg.buf.subarray(seg.offset), fromRate, toRate);
      seg.offset = 0;
      this.#bytes += seg.buf.length;
    }
    this.#segments = this.#segments.filter((seg) => seg.buf.length > 0);
  }

  /** Milliseconds of `tag` taken so far (0 for an unknown tag). */
  playedMs(tag: string): number {
    return this.#tags.get(tag)?.playedMs ?? 0;
  }
}
