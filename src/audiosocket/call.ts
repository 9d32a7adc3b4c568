import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ulawToPcm } from '../audio/mulaw.js';
import { detectFormat, FALLBACK_FORMAT, type AudioFormat } from './format.js';
import { createPlayout, type Playout } from './playout.js';
import type { Logger } from '../logger.js';
import type { Rejection } from './rejection-log.js';
import { HANGUP_MESSAGE, MessageReader, type Message } from './codec.js';
import type { AudioSocketCall, CallEvents, EndReason } from './call-contract.js';

export type { AudioSocketCall, CallEvents, EndReason } from './call-contract.js';

/** Shared counters the connections update. */
export interface ConnectionCounters {
  protocolErrors: number;
  handshakeFailures: number;
  idleTimeouts: number;
  writeTimeouts: number;
  framesIn: number;
  framesOut: number;
}

/** Limits and wiring for one connection. */
export interface ConnectionOptions {
  maxPayloadBytes: number;
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
  formatWaitMs: number;
  /** A call whose socket stays unwritable (peer not reading) this long is ended. */
  writeTimeoutMs: number;
  log: Logger;
  counters: ConnectionCounters;
  /** Told of a connection that ended before it became a call (for rate-limited logging). */
  onRejected(rejection: Rejection): void;
  /** Called once the UUID is known. */
  onCall(call: Connection): void;
  /** Called once the socket is fully closed. */
  onClosed(conn: Connection): void;
}

/** How long a closed-by-us socket may wait for the peer's FIN before it is destroyed. */
const LINGER_MS = 1000;

/** The server side of one AudioSocket TCP connection; becomes an AudioSocketCall after the UUID. */
export class Connection extends EventEmitter<CallEvents> implements AudioSocketCall {
  readonly #socket: Socket;
  readonly #opts: ConnectionOptions;
  readonly #reader: MessageReader;
  readonly #controller = new AbortController();
  readonly #formatReady: Promise<AudioFormat>;
  #resolveFormat!: (format: AudioFormat) => void;
  #format: AudioFormat | undefined;
  #id = '';
  #log: Logger;
  #startedAt = 0;
  #ended = false;
  #closed = false;
  #endReason: EndReason | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  /** Checks `#lastMessageAt` when it fires (cheaper than re-arming it on every message). */
  #idleTimer: NodeJS.Timeout | undefined;
  #lastMessageAt = 0;
  #formatTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  readonly playout: Playout;

  constructor(socket: Socket, opts: ConnectionOptions) {
    super();
    this.#socket = socket;
    this.#opts = opts;
    this.#log = opts.log;
    this.#reader = new MessageReader(opts.maxPayloadBytes);
    this.#formatReady = new Promise((resolve) => (this.#resolveFormat = resolve));
    this.playout = createPlayout(
      {
        write: (frame) => {
          if (this.#ended || !this.#socket.writable) return false;
          opts.counters.framesOut++;
          return this.#socket.write(frame);
        },
        blocked: () => this.#socket.writableNeedDrain,
      },
      FALLBACK_FORMAT,
      { stallMs: opts.writeTimeoutMs },
    );
    this.playout.once('stalled', (blockedMs) => {
      opts.counters.writeTimeouts++;
      this.#end('write_timeout', false, { blockedMs: Math.round(blockedMs) });
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#log.debug({ err }, 'socket error'));
    socket.on('close', () => this.#onClose());
    this.#handshakeTimer = setTimeout(() => this.#reject('handshake_timeout', 'no UUID message in time'), opts.handshakeTimeoutMs);
  }

  get id(): string {
    return this.#id;
  }
  get log(): Logger {
    return this.#log;
  }
  get startedAt(): number {
    return this.#startedAt;
  }
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
  get format(): Promise<AudioFormat> {
    return this.#formatReady;
  }
  get currentFormat(): AudioFormat | undefined {
    return this.#format;
  }
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  get ended(): boolean {
    return this.#ended;
  }
  get endReason(): EndReason | undefined {
    return this.#endReason;
  }
  /** True once the UUID has arrived. */
  get established(): boolean {
    return this.#id !== '';
  }
  /** True once the socket is fully closed. */
  get closed(): boolean {
    return this.#closed;
  }

  hangUp(reason: EndReason = 'hangup_sent'): void {
    this.#end(reason, true);
  }

  /** Ends a connection that never became a call, or hangs up a call, for server shutdown. */
  shutdown(): void {
    if (this.established) this.hangUp('server_closed');
    else if (!this.#ended) this.#reject('server_closed', 'server closing');
  }

  #onData(chunk: Buffer): void {
    if (this.#ended) return;
    let messages: Message[];
    try {
      messages = this.#reader.push(chunk);
    } catch (err) {
      this.#protocolError((err as Error).message);
      return;
    }
    for (const message of messages) {
      if (this.#ended) return;
      this.#handle(message);
    }
  }

  #handle(message: Message): void {
    if (!this.established) {
      if (message.type !== 'uuid') {
        this.#reject('protocol_error', `first message is ${message.type}, not a UUID`);
        return;
      }
      this.#establish(message.id);
      return;
    }
    this.#lastMessageAt = performance.now();
    switch (message.type) {
      case 'audio':
        this.#onAudio(message.kind, message.payload);
        return;
      case 'dtmf':
        this.#emitSafely('dtmf', message.digit);
        return;
      case 'hangup':
        this.#end('peer_hangup', false);
        return;
      case 'error':
        this.#end('peer_error', false, { code: message.code });
        return;
      case 'uuid':
        this.#protocolError('second UUID message');
        return;
    }
  }

  #establish(id: string): void {
    clearTimeout(this.#handshakeTimer);
    this.#id = id;
    this.#startedAt = Date.now();
    this.#log = this.#opts.log.child({ callId: id });
    this.#lastMessageAt = performance.now();
    this.#idleTimer = setTimeout(() => this.#checkIdle(), this.#opts.idleTimeoutMs);
    this.#formatTimer = setTimeout(() => this.#adoptFormat(FALLBACK_FORMAT), this.#opts.formatWaitMs);
    this.#log.info({ remote: this.remoteAddress }, 'call started');
    this.#opts.onCall(this);
  }

  #onAudio(kind: number, payload: Buffer): void {
    this.#opts.counters.framesIn++;
    if (this.#format === undefined || !this.#format.detected) this.#adoptFormat(detectFormat(kind, payload.length));
    if (this.#ended) return;
    let pcm: Buffer;
    if (this.#format!.encoding === 'ulaw') pcm = ulawToPcm(payload);
    else pcm = payload.length % 2 === 0 ? payload : payload.subarray(0, payload.length - 1);
    if (pcm.length > 0) this.#emitSafely('audio', pcm);
  }

  #adoptFormat(format: AudioFormat): void {
    clearTimeout(this.#formatTimer);
    if (this.#ended) return;
    const previous = this.#format;
    this.#format = format;
    this.playout.setFormat(format);
    if (previous === undefined) {
      this.#log.debug({ sampleRate: format.sampleRate, encoding: format.encoding, detected: format.detected }, 'call format');
      this.playout.start();
      this.#resolveFormat(format);
    } else {
      this.#log.info({ sampleRate: format.sampleRate, encoding: format.encoding }, 'call format changed');
      this.#emitSafely('format', format);
    }
  }

  #emitSafely<K extends 'audio' | 'dtmf' | 'format'>(event: K, ...args: CallEvents[K]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      this.#end('handler_error', true, { err });
    }
  }

  #checkIdle(): void {
    const leftMs = this.#opts.idleTimeoutMs - (performance.now() - this.#lastMessageAt);
    if (leftMs > 0) this.#idleTimer = setTimeout(() => this.#checkIdle(), leftMs);
    else {
      this.#opts.counters.idleTimeouts++;
      this.#end('idle_timeout', true);
    }
  }

  #protocolError(detail: string): void {
    if (!this.established) {
      this.#reject('protocol_error', detail);
      return;
    }
    this.#opts.counters.protocolErrors++;
    this.#end('protocol_error', true, { detail });
  }

  /** Ends a connection that has no call id: one log line, no 0x00. */
  #reject(reason: 'protocol_error' | 'handshake_timeout' | 'closed_early' | 'server_closed', detail: string): void {
    if (this.#ended) return;
    if (reason !== 'server_closed') this.#opts.counters.handshakeFailures++;
    if (reason === 'protocol_error') this.#opts.counters.protocolErrors++;
    this.#ended = true;
    this.#endReason = reason === 'server_closed' ? 'server_closed' : 'protocol_error';
    clearTimeout(this.#handshakeTimer);
    this.playout.stop();
    this.#opts.onRejected({ remote: this.remoteAddress, reason, detail });
    this.#closeSocket();
    this.#controller.abort(this.#endReason);
  }

  #end(reason: EndReason, sendHangup: boolean, fields: Record<string, unknown> = {}): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endReason = reason;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#formatTimer);
    this.playout.stop();
    if (sendHangup && this.#socket.writable && !this.#socket.destroyed) this.#socket.write(HANGUP_MESSAGE);
    this.#closeSocket();
    const level = reason === 'protocol_error' || reason === 'handler_error' || reason === 'peer_error' || reason === 'write_timeout' ? 'warn' : 'info';
    this.#log[level]({ reason, durationMs: Date.now() - this.#startedAt, ...fields, ...this.playout.stats }, 'call ended');
    this.#controller.abort(reason);
    try {
      this.emit('end', reason);
    } catch (err) {
      this.#log.error({ err }, 'end listener failed');
    }
  }

  #closeSocket(): void {
    if (this.#socket.destroyed) return;
    this.#socket.end();
    this.#lingerTimer = setTimeout(() => this.#socket.destroy(), LINGER_MS);
  }

  #onClose(): void {
    clearTimeout(this.#lingerTimer);
    if (!this.#ended) {
      if (this.established) this.#end('peer_closed', false);
      else this.#reject('closed_early', 'closed before the UUID message');
    }
    this.#closed = true;
    this.#opts.onClosed(this);
  }
}
