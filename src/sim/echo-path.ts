/** A phone line's echo: the audio the caller's side plays comes back on its own leg, later and quieter. */
import { createResampler, type Resampler } from '../audio/resample.js';

/** Delay and level of the echo. */
export interface EchoOptions {
  /** From the moment a received frame plays to its echo in what the line sends, ms (0–2000). */
  delayMs: number;
  /** Level of the echo relative to what was played, dB (≤ 0; -12 is a typical line). */
  gainDb: number;
}

/** Checks echo options; a RangeError names what is wrong. */
export function checkEchoOptions(echo: EchoOptions): void {
  if (!Number.isFinite(echo.delayMs) || echo.delayMs < 0 || echo.delayMs > 2000) {
    throw new RangeError(`echo delayMs must be 0–2000, got ${String(echo.delayMs)}`);
  }
  if (!Number.isFinite(echo.gainDb) || echo.gainDb > 0 || echo.gainDb < -96) {
    throw new RangeError(`echo gainDb must be -96–0, got ${String(echo.gainDb)}`);
  }
}

/**
 * Mixes played audio back into sent audio on a sample timeline at one rate. A frame played at
 * `atMs` lands `delayMs` later; frames that follow within half a frame of each other are laid
 * end to end, so arrival jitter neither gaps nor overlaps the echo. A sent frame at `atMs` carries
 * the 20 ms (its length) of line audio before `atMs`.
 */
export class EchoPath {
  readonly sampleRate: number;
  readonly #gain: number;
  readonly #delaySamples: number;
  readonly #line: Float32Array;
  readonly #mask: number;
  #writeAt: number | undefined;
  #readAt: number | undefined;
  /** Earliest position written before the first read. */
  #earliest: number | undefined;
  #resampler: Resampler | undefined;

  constructor(echo: EchoOptions, sampleRate: number) {
    checkEchoOptions(echo);
    this.sampleRate = sampleRate;
    this.#gain = 10 ** (echo.gainDb / 20);
    this.#delaySamples = Math.round((echo.delayMs * sampleRate) / 1000);
    let size = 1024;
    while (size < this.#delaySamples + sampleRate * 2) size *= 2;
    this.#line = new Float32Array(size);
    this.#mask = size - 1;
  }

  /** A frame of s16le PCM at `sampleRate` that the line played at `atMs`. */
  played(frame: Buffer, sampleRate: number, atMs: number): void {
    let pcm = frame;
    if (sampleRate !== this.sampleRate) {
      if (this.#resampler?.fromRate !== sampleRate) this.#resampler = createResampler(sampleRate, this.sampleRate);
      pcm = this.#resampler.process(frame);
    }
    const samples = pcm.length >> 1;
    let start = this.#position(atMs) + this.#delaySamples;
    if (this.#writeAt !== undefined && Math.abs(start - this.#writeAt) <= samples / 2) start = this.#writeAt;
    if (this.#readAt === undefined) this.#earliest = Math.min(this.#earliest ?? start, start);
    // Nothing is written over audio not yet sent: the line holds at most its length ahead.
    const oldest = this.#readAt ?? this.#earliest!;
    for (let i = 0; i < samples; i++) {
      const at = start + i;
      // Audio due before what was already sent is lost, as it would be on a line.
      if (at < oldest) continue;
      if (at - oldest >= this.#line.length) break;
      this.#line[at & this.#mask]! += pcm.readInt16LE(i * 2) * this.#gain;
    }
    this.#writeAt = start + samples;
  }

  /** `frame` (s16le at the path's rate) with the echo of the line audio before `atMs` added, in a new buffer. */
  mix(frame: Buffer, atMs: number): Buffer {
    const samples = frame.length >> 1;
    let start = this.#position(atMs) - samples;
    if (this.#readAt === undefined) {
      // Audio played before the line first sent anything is gone.
      if (this.#earliest !== undefined && this.#earliest < start) this.#clear(this.#earliest, start);
    } else if (Math.abs(start - this.#readAt) <= samples / 2) start = this.#readAt;
    else if (start > this.#readAt) this.#clear(this.#readAt, start);
    const out = Buffer.allocUnsafe(frame.length);
    for (let i = 0; i < samples; i++) {
      const slot = (start + i) & this.#mask;
      const value = Math.round(frame.readInt16LE(i * 2) + this.#line[slot]!);
      this.#line[slot] = 0;
      out.writeInt16LE(value > 32767 ? 32767 : value < -32768 ? -32768 : value, i * 2);
    }
    this.#readAt = start + samples;
    return out;
  }

  #position(atMs: number): number {
    return Math.round((atMs * this.sampleRate) / 1000);
  }

  #clear(from: number, to: number): void {
    for (let at = from; at < to && at - from < this.#line.length; at++) this.#line[at & this.#mask] = 0;
  }
}
