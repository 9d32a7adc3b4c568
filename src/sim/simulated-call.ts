/** One call as Asterisk places it: a real TCP AudioSocket client that paces 20 ms frames. */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isVoiced, toFrames } from '../audio/frames.js';
import { pcmToUlaw } from '../audio/mulaw.js';
import { FRAME_MS, frameBytes } from '../audio/pcm.js';
import { HEADER_BYTES, Kind, MessageReader, encodeMessage, kindForRate } from '../audiosocket/codec.js';
import { checkEchoOptions, EchoPath } from './echo-path.js';
import { decodeFrame, heardAudio, type FrameAudio, type LineFormat } from './received-audio.js';
import type { CallEnd, ReceivedFrame, SentMark, SimulatedCallOptions } from './simulated-call-types.js';
import { receivedFrameSound } from './tone.js';

export type { CallEnd, ReceivedFrame, SentMark, SimulatedCallOptions };

/** Events: 'frame' (ReceivedFrame), 'hangup' (server sent 0x00), 'close' (CallEnd). */
export class SimulatedCall extends EventEmitter {
  readonly uuid: string;
  readonly sampleRate: 8000 | 16000;
  readonly kind: number;
  readonly encoding: 'slin' | 'ulaw';
  /** How this line's Asterisk reads the 0x10 frames the server sends. */
  readonly line: LineFormat;
  /** Every audio frame received, in order. */
  readonly received: ReceivedFrame[] = [];
  /** Send time of every frame sent, in order. */
  readonly sent: SentMark[] = [];
  /** Arrival time (ms since connect) of every audio frame received, kept even without `keepFrames`. */
  readonly arrivalsMs: number[] = [];
  /** Resolves once when the call is over, however it ended. */
  readonly closed: Promise<CallEnd>;

  readonly #socket: Socket;
  readonly #t0: number;
  readonly #reader = new MessageReader();
  readonly #fillSilence: boolean;
  readonly #keepPayload: boolean;
  readonly #analyze: boolean;
  readonly #keepFrames: boolean;
  /** A frame of line silence, as PCM at the call's rate. */
  readonly #silence: Buffer;
  readonly #echo: EchoPath | undefined;
  /** Caller audio to send, as PCM frames at the call's rate (μ-law is encoded as it is sent). */
  readonly #queue: { frame: Buffer; voiced: boolean; clip: number; last?: () => void }[] = [];
  #clips = 0;
  #next: number;
  #timer: NodeJS.Timeout | undefined;
  #end: CallEnd | undefined;
  #resolveClosed!: (end: CallEnd) => void;

  private constructor(socket: Socket, uuid: string, options: SimulatedCallOptions) {
    super();
    this.#socket = socket;
    this.#t0 = performance.now();
    this.uuid = uuid;
    this.sampleRate = options.sampleRate ?? 8000;
    this.encoding = options.encoding ?? 'slin';
    this.kind = options.legacy8kLabel || this.encoding === 'ulaw' ? Kind.Slin8k : kindForRate(this.sampleRate)!;
    this.line = { ulaw: this.encoding === 'ulaw', slin8kRate: options.legacy8kLabel ? this.sampleRate : 8000 };
    this.#fillSilence = options.fillSilence ?? true;
    this.#keepPayload = options.keepPayload ?? true;
    this.#analyze = options.analyze ?? true;
    this.#keepFrames = options.keepFrames ?? true;
    this.#silence = Buffer.alloc(frameBytes(this.sampleRate));
    this.#echo = options.echo === undefined ? undefined : new EchoPath(options.echo, this.sampleRate);
    const silentStartMs = options.silentStartMs ?? 0;
    this.#next = this.#t0 + silentStartMs;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#finish({ by: 'error', atMs: this.nowMs(), error: err }));
    socket.on('close', () => this.#finish({ by: 'server-close', atMs: this.nowMs() }));
    socket.write(encodeMessage({ type: 'uuid', id: uuid }));
    if (silentStartMs > 0) this.#timer = setTimeout(this.#tick, silentStartMs);
    else this.#tick();
  }

  /** Opens the TCP connection, sends the UUID and starts the 20 ms sender. */
  static connect(options: SimulatedCallOptions): Promise<SimulatedCall> {
    const host = options.host ?? '127.0.0.1';
    const uuid = options.uuid ?? randomUUID();
    if (options.sampleRate !== undefined && options.sampleRate !== 8000 && options.sampleRate !== 16000) {
      return Promise.reject(new RangeError(`sampleRate must be 8000 or 16000, got ${String(options.sampleRate)}`));
    }
    if (options.encoding === 'ulaw' && (options.sampleRate ?? 8000) !== 8000) {
      return Promise.reject(new RangeError(`μ-law calls are 8000 Hz, got sampleRate ${options.sampleRate}`));
    }
    if (options.echo !== undefined) {
      try {
        checkEchoOptions(options.echo);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const silent = options.silentStartMs ?? 0;
    if (!Number.isFinite(silent) || silent < 0) {
      return Promise.reject(new RangeError(`silentStartMs must be a number of ms >= 0, got ${String(options.silentStartMs)}`));
    }
    try {
      encodeMessage({ type: 'uuid', id: uuid });
    } catch (err) {
      return Promise.reject(new RangeError(`uuid must be a canonical 36-character UUID, got ${JSON.stringify(uuid)}`, { cause: err }));
    }
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`cannot connect to ${host}:${options.port}: timed out after ${options.connectTimeoutMs ?? 5000} ms`));
      }, options.connectTimeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${host}:${options.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new SimulatedCall(socket, uuid, options));
      });
    });
  }

  /** Milliseconds since the connection was established. */
  nowMs(): number {
    return performance.now() - this.#t0;
  }

  /** True until the call has ended. */
  get active(): boolean {
    return this.#end === undefined;
  }

  /** Frames queued to play and not yet sent. */
  get queuedFrames(): number {
    return this.#queue.length;
  }

  /**
   * Queues s16le PCM at the call's rate to be sent as real-time 20 ms frames (the last one padded).
   * Resolves with the send time of the last frame, or when the call ends first.
   */
  play(pcm: Buffer): Promise<number> {
    const clip = this.#clips++;
    const frames = toFrames(pcm, this.sampleRate);
    if (frames.length === 0 || !this.active) return Promise.resolve(this.nowMs());
    return new Promise((resolve) => {
      frames.forEach((frame, i) => {
        this.#queue.push({
          frame,
          voiced: isVoiced(frame),
          clip,
          ...(i === frames.length - 1 ? { last: () => resolve(this.nowMs()) } : {}),
        });
      });
      void this.closed.then(() => resolve(this.nowMs()));
    });
  }

  /** Drops audio queued by `play()` that has not been sent yet. */
  stopPlaying(): void {
    for (const item of this.#queue.splice(0)) item.last?.();
  }

  /** Sends DTMF digits now, one 0x03 message each. */
  sendDtmf(digits: string): void {
    const messages = [...digits].map((digit) => encodeMessage({ type: 'dtmf', digit: digit.toUpperCase() }));
    if (this.active) this.#socket.write(Buffer.concat(messages));
  }

  /** Hangs up the way Asterisk does: by closing TCP, with no 0x00 message. */
  hangUp(): Promise<CallEnd> {
    this.#finish({ by: 'client' });
    return this.closed;
  }

  /** Everything received as the caller heard it, at one rate: each frame read at its own (requires `keepPayload`). */
  heard(): FrameAudio {
    return heardAudio(this.received, this.line, this.received.length === 0 ? this.sampleRate : undefined);
  }

  #tick = (): void => {
    if (!this.active) return;
    const now = performance.now();
    const item = this.#queue.shift();
    if (item !== undefined) {
      this.#send(this.#withEcho(item.frame), item.voiced, item.clip);
      item.last?.();
    } else if (this.#fillSilence) {
      this.#send(this.#withEcho(this.#silence), false, -1);
    } else if (this.#echo !== undefined) {
      const echo = this.#withEcho(this.#silence);
      if (echo.some((byte) => byte !== 0)) this.#send(echo, false, -1);
    }
    // Absolute deadlines: the next frame is due 20 ms after this one's slot, not after now.
    this.#next += FRAME_MS;
    if (now - this.#next > FRAME_MS) this.#next = now + FRAME_MS; // fell behind: re-anchor, never burst
    this.#timer = setTimeout(this.#tick, Math.max(0, this.#next - performance.now()));
  };

  /** `frame` with the line's echo mixed in, when the line echoes. */
  #withEcho(frame: Buffer): Buffer {
    return this.#echo === undefined ? frame : this.#echo.mix(frame, this.nowMs());
  }

  /** A received frame plays on the caller's side and comes back in the echo. */
  #playedBack(kind: number, payload: Buffer, atMs: number): void {
    const audio = decodeFrame(kind, payload, this.line);
    this.#echo!.played(audio.pcm, audio.sampleRate, atMs);
  }

  #send(pcm: Buffer, voiced: boolean, clip: number): void {
    const frame = this.encoding === 'ulaw' ? pcmToUlaw(pcm) : pcm;
    const head = Buffer.allocUnsafe(HEADER_BYTES);
    head[0] = this.kind;
    head.writeUInt16BE(frame.length, 1);
    this.#socket.write(Buffer.concat([head, frame], HEADER_BYTES + frame.length));
    if (this.#keepFrames) this.sent.push({ atMs: this.nowMs(), voiced, clip });
  }

  #onData(chunk: Buffer): void {
    let messages;
    try {
      messages = this.#reader.push(chunk);
    } catch (err) {
      this.#finish({ by: 'error', atMs: this.nowMs(), error: err as Error });
      return;
    }
    for (const message of messages) {
      if (message.type === 'audio') {
        const atMs = this.nowMs();
        this.arrivalsMs.push(atMs);
        if (this.#echo !== undefined) this.#playedBack(message.kind, message.payload, atMs);
        if (!this.#keepFrames && this.listenerCount('frame') === 0) continue;
        const sound = this.#analyze ? receivedFrameSound(message.kind, message.payload, this.line) : undefined;
        const frame: ReceivedFrame = {
          atMs,
          kind: message.kind,
          bytes: message.payload.length,
          voiced: sound?.voiced ?? false,
          ...(sound !== undefined ? { sound } : {}),
          ...(this.#keepPayload ? { payload: message.payload } : {}),
        };
        if (this.#keepFrames) this.received.push(frame);
        this.emit('frame', frame);
      } else if (message.type === 'hangup') {
        this.emit('hangup');
        this.#finish({ by: 'server-hangup', atMs: this.nowMs() });
        return;
      } else {
        const error = new Error(`server sent a ${message.type} message, which Asterisk treats as an error`);
        this.#finish({ by: 'error', atMs: this.nowMs(), error });
        return;
      }
    }
  }

  #finish(end: CallEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    clearTimeout(this.#timer);
    this.#socket.destroy();
    for (const item of this.#queue.splice(0)) item.last?.();
    this.emit('close', end);
    this.#resolveClosed(end);
  }
}
