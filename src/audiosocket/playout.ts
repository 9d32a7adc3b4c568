import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { FRAME_MS, frameBytes, pcmDurationMs } from '../audio/pcm.js';
import { pcmToUlaw, ULAW_SILENCE } from '../audio/mulaw.js';
import { resample } from '../audio/resample.js';
import { HEADER_BYTES, writeAudioHeader } from './codec.js';

/** What goes on the wire for one call: rate, encoding, kind byte and payload size per 20 ms. */
export interface AudioFormat {
  sampleRate: number;
  encoding: 'slin' | 'ulaw';
  /** The AudioSocket kind byte the frames carry. */
  kind: number;
  /** Payload bytes of one 20 ms frame on the wire. */
  payloadBytes: number;
  /** True when taken from the peer's audio, false for the fallback. */
  detected: boolean;
}

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

/** How much of a tag the caller heard. */
export interface TagPlayed {
  tag: string;
  playedMs: number;
  /** Audio of this tag that was queued but dropped by `clear()`, ms. */
  droppedMs: number;
}

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

/** Builds the wire format for slin at `sampleRate` with the given kind byte. */
export function slinFormat(sampleRate: number, kind: number, detected: boolean): AudioFormat {
  return { sampleRate, encoding: 'slin', kind, payloadBytes: Math.round((sampleRate * FRAME_MS) / 1000) * 2, detected };
}

/** μ-law 8 kHz labelled 0x10 with 160-byte payloads, as Asterisk's `c(ulaw)` sends it. */
export function ulawFormat(detected: boolean): AudioFormat {
  return { sampleRate: 8000, encoding: 'ulaw', kind: 0x10, payloadBytes: 160, detected };
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

const MAX_TAGS = 256;
/**
 * How far the clock may fall behind before it re-anchors. A timer that fires a few ms late is
 * caught up on the next ticks (at most two frames back to back, well inside Asterisk's jitter
 * tolerance); a real stall re-anchors rather than bursting, which Asterisk would play fast or a
 * conference mixer would drop.
 */
const MAX_LAG_MS = 2 * FRAME_MS;

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
  #pcmFrameBytes = 0;
  #silence: Buffer = Buffer.alloc(0);
  #scratch: Buffer = Buffer.alloc(0);
  #queue: Segment[] = [];
  #queuedBytes = 0;
  #tags = new Map<string, TagState>();
  #streamOpen = false;
  #streamPlaying = false;
  #idleWaiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #running = false;
  #stopped = false;
  /** True while the last frame written was silence: new audio need not wait for the next tick. */
  #silent = true;
  #blockedSince: number | undefined;
  #stallReported = false;

  constructor(sink: PlayoutSink, format: AudioFormat, options: PlayoutOptions = {}) {
    super();
    this.#sink = sink;
    this.#stallMs = options.stallMs;
    this.#format = format;
    this.#applyFormat(format);
  }

  get format(): AudioFormat {
    return this.#format;
  }

  get running(): boolean {
    return this.#running;
  }

  get queuedMs(): number {
    return pcmDurationMs(this.#queuedBytes, this.#format.sampleRate);
  }

  get idle(): boolean {
    return this.#queuedBytes === 0 && !this.#streamOpen;
  }

  get stats(): Readonly<PlayoutStats> {
    return this.#stats;
  }

  start(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#next = performance.now();
    this.#tick();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#queuedBytes = 0;
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
    this.#applyFormat(format);
    if (old.sampleRate === format.sampleRate) return;
    // What is queued keeps its pitch and length across the switch: resampled, segment by segment.
    this.#queuedBytes = 0;
    for (const seg of this.#queue) {
      seg.buf = resample(seg.buf.subarray(seg.offset), old.sampleRate, format.sampleRate);
      seg.offset = 0;
      this.#queuedBytes += seg.buf.length;
    }
    this.#queue = this.#queue.filter((seg) => seg.buf.length > 0);
  }

  enqueue(pcm: Buffer, tag?: string, sampleRate = this.#format.sampleRate): void {
    if (this.#stopped || pcm.length === 0) return;
    const buf = sampleRate === this.#format.sampleRate ? pcm : resample(pcm, sampleRate, this.#format.sampleRate);
    if (buf.length === 0) return;
    this.#queue.push({ buf, offset: 0, tag });
    this.#queuedBytes += buf.length;
    if (tag !== undefined && !this.#tags.has(tag)) {
      this.#tags.set(tag, { playedMs: 0, started: false });
      if (this.#tags.size > MAX_TAGS) this.#tags.delete(this.#tags.keys().next().value!);
    }
    if (this.#silent && this.#running && this.#timer !== undefined && this.#hasFrame()) {
      // The caller is hearing silence: send the first frame of the reply now, not at the next tick.
      clearTimeout(this.#timer);
      this.#next = performance.now();
      this.#tick();
    }
  }

  clear(): TagPlayed[] {
    const hadQueued = this.#queuedBytes > 0;
    const dropped = new Map<string, number>();
    for (const seg of this.#queue) {
      if (seg.tag === undefined) continue;
      dropped.set(seg.tag, (dropped.get(seg.tag) ?? 0) + seg.buf.length - seg.offset);
    }
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#streamPlaying = false;
    const result = [...dropped].map(([tag, bytes]) => ({
      tag,
      playedMs: this.playedMs(tag),
      droppedMs: pcmDurationMs(bytes, this.#format.sampleRate),
    }));
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
    if (this.#queuedBytes === 0) this.#becameIdle();
  }

  playedMs(tag: string): number {
    return this.#tags.get(tag)?.playedMs ?? 0;
  }

  whenIdle(): Promise<void> {
    if (this.idle || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #hasFrame(): boolean {
    return this.#queuedBytes >= this.#pcmFrameBytes || (this.#queuedBytes > 0 && !this.#streamOpen);
  }

  #applyFormat(format: AudioFormat): void {
    this.#pcmFrameBytes = frameBytes(format.sampleRate);
    this.#silence = Buffer.alloc(HEADER_BYTES + format.payloadBytes, format.encoding === 'ulaw' ? ULAW_SILENCE : 0);
    writeAudioHeader(this.#silence, format.kind, format.payloadBytes);
    this.#scratch = Buffer.alloc(this.#pcmFrameBytes);
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (!this.#running) return;
    const now = performance.now();
    if (now - this.#next > MAX_LAG_MS) {
      this.#stats.lostMs += now - this.#next;
      this.#next = now;
      this.#stats.reanchors++;
    }
    this.#writeOne();
    if (!this.#running) return;
    this.#next += FRAME_MS;
    this.#timer = setTimeout(this.#tick, Math.max(0, this.#next - performance.now()));
  };

  #writeOne(): void {
    if (this.#sink.blocked()) {
      this.#stats.backpressureSkips++;
      this.#checkStall();
      return;
    }
    this.#blockedSince = undefined;
    this.#stallReported = false;
    const need = this.#pcmFrameBytes;
    if (!this.#hasFrame()) {
      if (this.#streamOpen && this.#streamPlaying) this.#stats.underruns++;
      this.#sink.write(this.#silence);
      this.#stats.framesWritten++;
      this.#stats.silenceFrames++;
      this.#silent = true;
      return;
    }
    this.#silent = false;
    const rate = this.#format.sampleRate;
    const frame = Buffer.allocUnsafe(HEADER_BYTES + this.#format.payloadBytes);
    writeAudioHeader(frame, this.#format.kind, this.#format.payloadBytes);
    const ulaw = this.#format.encoding === 'ulaw';
    const target = ulaw ? this.#scratch : frame;
    const base = ulaw ? 0 : HEADER_BYTES;
    let filled = 0;
    let started: string[] | undefined;
    while (filled < need && this.#queue.length > 0) {
      const seg = this.#queue[0]!;
      const n = Math.min(need - filled, seg.buf.length - seg.offset);
      seg.buf.copy(target, base + filled, seg.offset, seg.offset + n);
      seg.offset += n;
      filled += n;
      if (seg.tag !== undefined) {
        const state = this.#tags.get(seg.tag);
        if (state) {
          state.playedMs += pcmDurationMs(n, rate);
          if (!state.started) {
            state.started = true;
            (started ??= []).push(seg.tag);
          }
        }
      }
      if (seg.offset >= seg.buf.length) this.#queue.shift();
    }
    this.#queuedBytes -= filled;
    // A partial last frame is padded with silence: Asterisk hangs up on an empty payload.
    if (filled < need) target.fill(0, base + filled, base + need);
    if (ulaw) pcmToUlaw(this.#scratch, frame, HEADER_BYTES);
    this.#sink.write(frame);
    this.#stats.framesWritten++;
    this.#stats.audioFrames++;
    if (this.#streamOpen) this.#streamPlaying = true;
    if (started) {
      const at = performance.now();
      for (const tag of started) this.emit('tagStart', tag, at);
    }
    if (this.#queuedBytes === 0 && !this.#streamOpen) this.#becameIdle();
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
