import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { pcmDurationMs } from '../audio/pcm.js';
import { resample } from '../audio/resample.js';
import { AudioQueue, type TagPlayed } from './audio-queue.js';
import type { AudioFormat } from './format.js';
import { CallClock } from './frame-clock.js';
import { WireFrames } from './wire-frames.js';

/** Where frames go: a socket in production. `blocked()` is true while the last write is unflushed. */
export interface PlayoutSink {
  write(frame: Buffer): boolean;
  blocked(): boolean;
}

/** Counters of one playout. */
export interface PlayoutStats {
  framesWritten: number;
  audioFrames: number;
  silenceFrames: number;
  /** Ticks that found less than a frame queued while a reply stream was playing. */
  underruns: number;
  /** Ticks skipped because the socket had not drained. */
  backpressureSkips: number;
  /** Times the clock fell more than a frame behind and re-anchored instead of bursting. */
  reanchors: number;
  /** Clock time skipped by those re-anchors, ms: frames × 20 + lostMs tracks elapsed time. */
  lostMs: number;
}

export type { TagPlayed };

/**
 * Events of a playout: first frame of a tag written (performance.now() time), queue drained, and
 * the sink blocked for longer than the stall limit (once per blocked spell).
 */
export interface PlayoutEvents {
  tagStart: [tag: string, at: number];
  idle: [];
  stalled: [blockedMs: number];
}

/** Tuning of one playout. */
export interface PlayoutOptions {
  /** A sink blocked this long emits `stalled`, ms; never when undefined. */
  stallMs?: number;
}

/** A paced 20 ms frame writer for one call. */
export interface Playout extends EventEmitter<PlayoutEvents> {
  readonly format: AudioFormat;
  readonly running: boolean;
  /** Milliseconds of audio queued and not yet written. */
  readonly queuedMs: number;
  /** True when nothing is queued and no stream is open. */
  readonly idle: boolean;
  readonly stats: Readonly<PlayoutStats>;
  /** Starts the clock; the first frame is written at once. */
  start(): void;
  /** Stops the clock for good; nothing is written afterwards. */
  stop(): void;
  /** Switches the wire format; audio already queued is resampled to the new rate, not dropped. */
  setFormat(format: AudioFormat): void;
  /**
   * Queues s16le PCM at `sampleRate` (the wire rate when omitted), resampled to the wire rate when
   * they differ; the buffer must not be changed afterwards. Audio arriving while the playout sends
   * silence goes out at once and the 20 ms clock re-phases from it.
   */
  enqueue(pcm: Buffer, tag?: string, sampleRate?: number): void;
  /**
   * Sees every audio frame as it is written: its PCM (before μ-law), rate and time. For the echo
   * guard, which must know exactly what the caller's line will echo; at most one tap.
   */
  tap(onFrame: ((pcm: Buffer, sampleRate: number, at: number) => void) | undefined): void;
  /** Drops everything queued (barge-in): the next frame written is silence. */
  clear(): TagPlayed[];
  /** Marks a reply in progress: empty ticks after its first frame count as underruns. */
  beginStream(): void;
  /** Ends the reply started by `beginStream()`; a trailing partial frame is then padded and played. */
  endStream(): void;
  /** Milliseconds of `tag` written so far (0 for an unknown tag). */
  playedMs(tag: string): number;
  /** Resolves when the queue is drained and no stream is open, or when the playout stops. */
  whenIdle(): Promise<void>;
}

class PacedPlayout extends EventEmitter<PlayoutEvents> implements Playout {
  readonly #sink: PlayoutSink;
  readonly #stats: PlayoutStats = {
    framesWritten: 0,
    audioFrames: 0,
    silenceFrames: 0,
    underruns: 0,
    backpressureSkips: 0,
    reanchors: 0,
    lostMs: 0,
  };
  readonly #stallMs: number | undefined;
  #format: AudioFormat;
  #frames: WireFrames;
  readonly #queue = new AudioQueue();
  #streamOpen = false;
  #streamPlaying = false;
  #idleWaiters: (() => void)[] = [];
  readonly #clock = new CallClock(
    () => this.#writeOne(),
    (lostMs) => {
      this.#stats.lostMs += lostMs;
      this.#stats.reanchors++;
    },
  );
  #running = false;
  #stopped = false;
  /** True while the last frame written was silence: new audio need not wait for the next tick. */
  #silent = true;
  #blockedSince: number | undefined;
  #stallReported = false;
  #tap: ((pcm: Buffer, sampleRate: number, at: number) => void) | undefined;

  constructor(sink: PlayoutSink, format: AudioFormat, options: PlayoutOptions = {}) {
    super();
    this.#sink = sink;
    this.#stallMs = options.stallMs;
    this.#format = format;
    this.#frames = new WireFrames(format);
  }

  get format(): AudioFormat {
    return this.#format;
  }

  get running(): boolean {
    return this.#running;
  }

  get queuedMs(): number {
    return pcmDurationMs(this.#queue.bytes, this.#format.sampleRate);
  }

  get idle(): boolean {
    return this.#queue.bytes === 0 && !this.#streamOpen;
  }

  get stats(): Readonly<PlayoutStats> {
    return this.#stats;
  }

  start(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#clock.start();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#running = false;
    this.#clock.stop();
    this.#queue.clear(this.#format.sampleRate);
    this.#streamOpen = false;
    this.#resolveIdle();
  }

  setFormat(format: AudioFormat): void {
    const old = this.#format;
    if (old.sampleRate === format.sampleRate && old.encoding === format.encoding && old.kind === format.kind) {
      this.#format = format;
      return;
    }
    this.#format = format;
    this.#frames = new WireFrames(format);
    // What is queued keeps its pitch and length across the switch.
    if (old.sampleRate !== format.sampleRate) this.#queue.resample(old.sampleRate, format.sampleRate);
  }

  enqueue(pcm: Buffer, tag?: string, sampleRate = this.#format.sampleRate): void {
    if (this.#stopped || pcm.length === 0) return;
    const buf = sampleRate === this.#format.sampleRate ? pcm : resample(pcm, sampleRate, this.#format.sampleRate);
    this.#queue.push(buf, tag);
    // The caller is hearing silence: send the first frame of the reply now and re-phase from it.
    if (this.#silent && this.#running && this.#clock.waiting && this.#hasFrame()) this.#clock.start();
  }

  tap(onFrame: ((pcm: Buffer, sampleRate: number, at: number) => void) | undefined): void {
    this.#tap = onFrame;
  }

  clear(): TagPlayed[] {
    const hadQueued = this.#queue.bytes > 0;
    const result = this.#queue.clear(this.#format.sampleRate);
    this.#streamPlaying = false;
    if (hadQueued && !this.#streamOpen) this.#becameIdle();
    return result;
  }

  beginStream(): void {
    this.#streamOpen = true;
    this.#streamPlaying = false;
  }

  endStream(): void {
    if (!this.#streamOpen) return;
    this.#streamOpen = false;
    this.#streamPlaying = false;
    if (this.#queue.bytes === 0) this.#becameIdle();
  }

  playedMs(tag: string): number {
    return this.#queue.playedMs(tag);
  }

  whenIdle(): Promise<void> {
    if (this.idle || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #hasFrame(): boolean {
    return this.#queue.bytes >= this.#frames.pcmBytes || (this.#queue.bytes > 0 && !this.#streamOpen);
  }

  #writeOne(): void {
    if (this.#sink.blocked()) {
      this.#stats.backpressureSkips++;
      this.#checkStall();
      return;
    }
    this.#blockedSince = undefined;
    this.#stallReported = false;
    const frames = this.#frames;
    const need = frames.pcmBytes;
    if (!this.#hasFrame()) {
      if (this.#streamOpen && this.#streamPlaying) this.#stats.underruns++;
      this.#sink.write(frames.silence);
      this.#stats.framesWritten++;
      this.#stats.silenceFrames++;
      this.#silent = true;
      return;
    }
    this.#silent = false;
    const audio = frames.audio();
    const { filled, started } = this.#queue.take(audio.pcm, 0, need, frames.format.sampleRate);
    // A partial last frame is padded with silence: Asterisk hangs up on an empty payload.
    if (filled < need) audio.pcm.fill(0, filled, need);
    frames.encode(audio);
    this.#sink.write(audio.frame);
    this.#tap?.(audio.pcm, frames.format.sampleRate, performance.now());
    this.#stats.framesWritten++;
    this.#stats.audioFrames++;
    if (this.#streamOpen) this.#streamPlaying = true;
    if (started) {
      const at = performance.now();
      for (const tag of started) this.emit('tagStart', tag, at);
    }
    if (this.#queue.bytes === 0 && !this.#streamOpen) this.#becameIdle();
  }

  #checkStall(): void {
    if (this.#stallMs === undefined || this.#stallReported) return;
    const now = performance.now();
    this.#blockedSince ??= now;
    if (now - this.#blockedSince < this.#stallMs) return;
    this.#stallReported = true;
    this.emit('stalled', now - this.#blockedSince);
  }

  #becameIdle(): void {
    this.emit('idle');
    this.#resolveIdle();
  }

  #resolveIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Creates a playout writing to `sink` in `format`; call `start()` to begin the 20 ms clock. */
export function createPlayout(sink: PlayoutSink, format: AudioFormat, options?: PlayoutOptions): Playout {
  return new PacedPlayout(sink, format, options);
}
