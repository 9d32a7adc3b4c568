import WebSocket from 'ws';
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import type { Asr, AsrEvent, AsrSession } from './asr.js';
import { Reconnector } from './backoff.js';
import type { VoskConfig } from './config.js';
import { EventQueue } from './event-queue.js';

/** What the Vosk recognizer needs besides its own settings. */
export interface VoskAsrDeps {
  observer?: Observer;
}

const PROVIDER = 'vosk';
/** The server compares this string exactly, space included. */
export const VOSK_EOF = '{"eof" : 1}';
/** Without a partial in progress, older audio held no speech: replay at most this much of it. */
const IDLE_REPLAY_MS = 1_000;
/** Longest gap filled with one zero-PCM message. */
const MAX_FILL_MS = 1_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** A Vosk server (vosk-server asr_server.py protocol) over WebSocket. */
export function createVoskAsr(config: VoskConfig, deps: VoskAsrDeps = {}): Asr {
  return {
    async *transcribe(audio, session) {
      if (!Number.isInteger(session.sampleRate) || session.sampleRate < 8000 || session.sampleRate > 48000) {
        throw new VoicebotError('asr_failed', `Vosk cannot take ${session.sampleRate} Hz audio`);
      }
      yield* new VoskRecognition(config, session, deps.observer ?? noopObserver).run(audio);
    },
  };
}

interface Connection {
  ws: WebSocket;
  open: boolean;
  retired: boolean;
  /** Messages of `pending` this connection has answered (Vosk answers every audio message once). */
  answered: number;
  /** Audio messages sent and not answered yet. */
  unanswered: number;
  lastAnswerAt: number;
}

class VoskRecognition {
  readonly #config: VoskConfig;
  readonly #rate: number;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  readonly #observer: Observer;
  readonly #events = new EventQueue<AsrEvent>();
  /** Audio messages not yet covered by a `text` result, oldest first. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #conn: Connection | undefined;
  readonly #reconnect: Reconnector;
  #filler: NodeJS.Timeout | undefined;
  #grace: NodeJS.Timeout | undefined;
  #lastAudioAt = 0;
  #audioEnded = false;
  #stopped = false;
  #speaking = false;
  #lastPartial = '';

  constructor(config: VoskConfig, session: AsrSession, observer: Observer) {
    this.#config = config;
    this.#reconnect = new Reconnector(config.reconnect);
    this.#rate = session.sampleRate;
    this.#signal = session.signal;
    this.#log = session.log;
    this.#observer = observer;
  }

  async *run(audio: AsyncIterable<Buffer>): AsyncGenerator<AsrEvent> {
    if (this.#signal.aborted) return;
    const onAbort = (): void => this.#finish();
    this.#signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.#lastAudioAt = performance.now();
      this.#connect();
      this.#filler = setInterval(() => this.#fillSilence(), Math.max(20, this.#config.silenceFillMs / 2));
      void this.#pump(audio);
      yield* this.#events.drain();
    } finally {
      this.#signal.removeEventListener('abort', onAbort);
      this.#stop();
    }
  }

  async #pump(audio: AsyncIterable<Buffer>): Promise<void> {
    try {
      for await (const frame of audio) {
        if (this.#stopped) return;
        const data = frame.length % 2 === 0 ? frame : frame.subarray(0, frame.length - 1);
        if (data.length === 0) continue;
        this.#lastAudioAt = performance.now();
        this.#add(data);
      }
      if (!this.#stopped) this.#onAudioEnd();
    } catch (err) {
      if (this.#stopped) return;
      this.#fail(new VoicebotError('asr_failed', 'the caller audio source failed', { cause: err }));
    }
  }

  /** Asterisk sends nothing while a silence-suppressing leg is quiet: Vosk's endpointer needs that pause as audio. */
  #fillSilence(): void {
    if (this.#audioEnded || this.#stopped) return;
    const now = performance.now();
    const conn = this.#conn;
    if (conn?.open && conn.unanswered > 0 && now - conn.lastAnswerAt > this.#config.stallTimeoutMs) {
      this.#onDrop(conn, new Error('no answer from the Vosk server'));
      return;
    }
    const gap = Math.min(MAX_FILL_MS, now - this.#lastAudioAt);
    if (now - this.#lastAudioAt < this.#config.silenceFillMs) return;
    this.#lastAudioAt = now;
    this.#add(Buffer.alloc(Math.round((gap * this.#rate) / 1000) * 2));
  }

  #add(data: Buffer): void {
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    if (!this.#speaking) this.#trimIdle();
    const conn = this.#conn;
    if (conn?.open) this.#send(conn, data);
  }

  #send(conn: Connection, data: Buffer): void {
    if (conn.unanswered === 0) conn.lastAnswerAt = performance.now();
    conn.unanswered += 1;
    conn.ws.send(data);
  }

  /** Drops answered audio beyond the last second while nobody speaks (it held no speech). */
  #trimIdle(): void {
    const conn = this.#conn;
    const keepBytes = (IDLE_REPLAY_MS * this.#rate * 2) / 1000;
    while (conn !== undefined && conn.answered > 0 && this.#pendingBytes - this.#pending[0]!.length >= keepBytes) {
      this.#pendingBytes -= this.#pending.shift()!.length;
      conn.answered -= 1;
    }
  }

  #connect(): void {
    const ws = new WebSocket(this.#config.url, { handshakeTimeout: CONNECT_TIMEOUT_MS, perMessageDeflate: false });
    const conn: Connection = { ws, open: false, retired: false, answered: 0, unanswered: 0, lastAnswerAt: 0 };
    this.#conn = conn;
    ws.on('open', () => {
      if (conn.retired) return;
      conn.open = true;
      ws.send(JSON.stringify({ config: { sample_rate: this.#rate } }));
      for (const data of this.#pending) this.#send(conn, data);
      this.#log.debug({ replayBytes: this.#pendingBytes }, 'asr session opened');
      if (this.#audioEnded) this.#sendEof(conn);
    });
    ws.on('message', (data, isBinary) => this.#onMessage(conn, data, isBinary));
    ws.on('error', (err) => this.#onDrop(conn, err));
    ws.on('close', (code) => this.#onDrop(conn, new Error(`closed with code ${code}`)));
  }

  #onMessage(conn: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (conn.retired) return;
    let message: { partial?: unknown; text?: unknown };
    try {
      if (isBinary) throw new Error('binary message');
      message = JSON.parse(String(data)) as typeof message;
      if (message === null || typeof message !== 'object') throw new Error('not an object');
    } catch (err) {
      this.#onDrop(conn, new Error('Vosk sent a message that is not a JSON result', { cause: err }));
      return;
    }
    this.#reconnect.reset();
    conn.answered += 1;
    conn.unanswered = Math.max(0, conn.unanswered - 1);
    conn.lastAnswerAt = performance.now();
    if (typeof message.partial === 'string') {
      const text = message.partial;
      if (text === '' || text === this.#lastPartial) return;
      this.#speaking = true;
      this.#lastPartial = text;
      this.#events.push({ type: 'partial', text });
      this.#log.debug({ text }, 'asr partial');
      return;
    }
    if (typeof message.text === 'string') {
      // A result covers every audio message answered so far.
      const covered = Math.min(conn.answered, this.#pending.length);
      for (const dropped of this.#pending.splice(0, covered)) this.#pendingBytes -= dropped.length;
      conn.answered = 0;
      const hadPartial = this.#lastPartial !== '';
      this.#speaking = false;
      this.#lastPartial = '';
      const text = message.text.trim();
      if (text !== '') {
        this.#events.push({ type: 'final', text });
        this.#events.push({ type: 'eou' });
        this.#log.debug({ text }, 'asr final');
      } else if (hadPartial) {
        // Partials that end in an empty result were noise: the EOU still says the caller stopped.
        this.#events.push({ type: 'eou' });
      }
    }
  }

  #onDrop(conn: Connection, err: Error): void {
    if (conn.retired || this.#stopped) return;
    this.#retire(conn);
    if (this.#audioEnded) {
      this.#finish();
      return;
    }
    this.#observer.providerError(PROVIDER, 'asr_unavailable');
    this.#lastPartial = '';
    const next = this.#reconnect.schedule(() => {
      if (!this.#stopped) this.#connect();
    });
    if (next === undefined) {
      this.#log.error({ err: err.message, attempts: this.#config.reconnect.attempts }, 'asr unavailable, giving up');
      this.#fail(new VoicebotError('asr_unavailable', `Vosk server at ${this.#config.url} is unavailable`, { cause: err }));
      return;
    }
    this.#log.warn({ err: err.message, ...next }, 'asr connection lost, reconnecting');
  }

  #retire(conn: Connection): void {
    conn.retired = true;
    if (this.#conn === conn) this.#conn = undefined;
    conn.ws.removeAllListeners('message');
    conn.ws.on('error', () => undefined);
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.close(1000);
    else conn.ws.terminate();
  }

  #onAudioEnd(): void {
    this.#audioEnded = true;
    const conn = this.#conn;
    if (conn === undefined) {
      this.#finish();
      return;
    }
    if (conn.open) this.#sendEof(conn);
    this.#grace ??= setTimeout(() => this.#finish(), this.#config.endGraceMs);
  }

  /** After the eof the server sends its last result and closes: that close ends the recognition. */
  #sendEof(conn: Connection): void {
    conn.ws.send(VOSK_EOF);
  }

  #finish(): void {
    if (this.#stopped) return;
    this.#events.end();
    this.#stop();
  }

  #fail(error: VoicebotError): void {
    if (this.#stopped) return;
    this.#events.fail(error);
    this.#stop();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#events.end();
    clearInterval(this.#filler);
    this.#reconnect.cancel();
    clearTimeout(this.#grace);
    if (this.#conn !== undefined) this.#retire(this.#conn);
  }
}
