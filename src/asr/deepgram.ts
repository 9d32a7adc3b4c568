import WebSocket from 'ws';
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import type { Asr, AsrEvent, AsrSession } from './asr.js';
import { Reconnector } from './backoff.js';
import type { DeepgramConfig } from './config.js';
import { EventQueue } from './event-queue.js';
import { PendingAudio, type AudioItem } from './pending-audio.js';

/** What the Deepgram recognizer needs besides its own settings. */
export interface DeepgramAsrDeps {
  observer?: Observer;
}

const PROVIDER = 'deepgram';
/** Sent when no audio flows, so the server does not close the stream after 10 s. */
export const DEEPGRAM_KEEP_ALIVE = '{"type":"KeepAlive"}';
/** Asks the server to flush its last results and close. */
export const DEEPGRAM_CLOSE_STREAM = '{"type":"CloseStream"}';
/** Without timing in the results, idle audio older than this held no speech: replay at most this much. */
const IDLE_REPLAY_MS = 1_000;
/** Never hold more unfinalized audio than this for a replay. */
const MAX_REPLAY_MS = 60_000;
/** Longest gap filled with one zero-PCM message. */
const MAX_FILL_MS = 1_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** The `/v1/listen` URL for a call at `sampleRate`: raw s16le mono, interim results, endpointing and VAD events. */
export function deepgramListenUrl(config: DeepgramConfig, sampleRate: number): string {
  const query = new URLSearchParams({
    encoding: 'linear16',
    sample_rate: String(sampleRate),
    channels: '1',
    interim_results: 'true',
    endpointing: String(config.endpointingMs),
    utterance_end_ms: String(config.utteranceEndMs),
    vad_events: 'true',
    model: config.model,
    language: config.language,
    smart_format: 'true',
  });
  return `${config.url.replace(/\/+$/, '')}/v1/listen?${query.toString()}`;
}

/** Deepgram's live streaming recognizer over WebSocket. */
export function createDeepgramAsr(config: DeepgramConfig, deps: DeepgramAsrDeps = {}): Asr {
  return {
    async *transcribe(audio, session) {
      if (!Number.isInteger(session.sampleRate) || session.sampleRate < 8000 || session.sampleRate > 48000) {
        throw new VoicebotError('asr_failed', `Deepgram cannot take ${session.sampleRate} Hz audio`);
      }
      yield* new DeepgramRecognition(config, session, deps.observer ?? noopObserver).run(audio);
    },
  };
}

interface Connection {
  ws: WebSocket;
  open: boolean;
  retired: boolean;
  /** `CloseStream` was sent: nothing else goes out on this connection. */
  closing: boolean;
  /** Audio went out since the last message from the server. */
  awaiting: boolean;
  lastMessageAt: number;
  lastSendAt: number;
}

interface ResultsMessage {
  type: 'Results';
  is_final?: unknown;
  speech_final?: unknown;
  start?: unknown;
  duration?: unknown;
  channel?: { alternatives?: { transcript?: unknown }[] };
}

class DeepgramRecognition {
  readonly #config: DeepgramConfig;
  readonly #rate: number;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  readonly #observer: Observer;
  readonly #events = new EventQueue<AsrEvent>();
  /** Audio the server has not finalized yet, on the current connection's audio clock. */
  readonly #pending: PendingAudio;
  #conn: Connection | undefined;
  readonly #reconnect: Reconnector;
  #ticker: NodeJS.Timeout | undefined;
  #grace: NodeJS.Timeout | undefined;
  /** Last caller frame or filled gap. */
  #lastAudioAt = 0;
  /** Last caller frame. */
  #lastCallerAudioAt = 0;
  #audioEnded = false;
  #stopped = false;
  /** The current utterance produced text (a partial or a final). */
  #speaking = false;
  #finalInUtterance = false;
  #lastPartial = '';

  constructor(config: DeepgramConfig, session: AsrSession, observer: Observer) {
    this.#config = config;
    this.#reconnect = new Reconnector(config.reconnect);
    this.#rate = session.sampleRate;
    this.#signal = session.signal;
    this.#log = session.log;
    this.#observer = observer;
    this.#pending = new PendingAudio(session.sampleRate);
  }

  async *run(audio: AsyncIterable<Buffer>): AsyncGenerator<AsrEvent> {
    if (this.#signal.aborted) return;
    const onAbort = (): void => this.#finish();
    this.#signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.#lastAudioAt = this.#lastCallerAudioAt = performance.now();
      this.#connect();
      this.#ticker = setInterval(() => this.#tick(), Math.max(20, Math.min(this.#config.silenceFillMs, this.#config.keepAliveMs) / 2));
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
        this.#lastAudioAt = this.#lastCallerAudioAt = performance.now();
        this.#add({ kind: 'audio', data });
      }
      if (!this.#stopped) this.#onAudioEnd();
    } catch (err) {
      if (this.#stopped) return;
      this.#fail(new VoicebotError('asr_failed', 'the caller audio source failed', { cause: err }));
    }
  }

  /** Stall detection, silence filling and keep-alives. */
  #tick(): void {
    if (this.#audioEnded || this.#stopped) return;
    const now = performance.now();
    const conn = this.#conn;
    if (conn?.open && conn.awaiting && now - conn.lastMessageAt > this.#config.stallTimeoutMs) {
      this.#onDrop(conn, new Error('no message from the Deepgram server'));
      return;
    }
    // Asterisk sends nothing while a silence-suppressing leg is quiet: the endpointer needs that
    // pause as audio, but only until the utterance can have ended (the service bills audio).
    const fillUntil = this.#lastCallerAudioAt + this.#config.endpointingMs + this.#config.utteranceEndMs;
    if (now - this.#lastAudioAt >= this.#config.silenceFillMs && (this.#speaking || now < fillUntil)) {
      const gap = Math.min(MAX_FILL_MS, now - this.#lastAudioAt);
      this.#lastAudioAt = now;
      this.#add({ kind: 'silence', ms: gap });
      return;
    }
    if (conn?.open && !conn.closing && now - conn.lastSendAt >= this.#config.keepAliveMs) {
      conn.lastSendAt = now;
      conn.ws.send(DEEPGRAM_KEEP_ALIVE);
    }
  }

  #add(item: AudioItem): void {
    this.#pending.push(item);
    if (this.#pending.durationMs > MAX_REPLAY_MS) this.#pending.keepLast(MAX_REPLAY_MS);
    const conn = this.#conn;
    if (conn?.open && !conn.closing) this.#send(conn, item);
  }

  #send(conn: Connection, item: AudioItem): void {
    const now = performance.now();
    if (!conn.awaiting) {
      conn.awaiting = true;
      conn.lastMessageAt = now;
    }
    conn.lastSendAt = now;
    conn.ws.send(item.kind === 'audio' ? item.data : Buffer.alloc(Math.round((item.ms * this.#rate) / 1000) * 2));
  }

  #connect(): void {
    const ws = new WebSocket(deepgramListenUrl(this.#config, this.#rate), {
      headers: { Authorization: `Token ${this.#config.apiKey}` },
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    const conn: Connection = { ws, open: false, retired: false, closing: false, awaiting: false, lastMessageAt: 0, lastSendAt: 0 };
    this.#conn = conn;
    ws.on('open', () => {
      if (conn.retired) return;
      conn.open = true;
      conn.lastSendAt = performance.now();
      // A new stream starts its audio clock at zero with the replayed audio.
      for (const item of this.#pending.replay()) this.#send(conn, item);
      this.#log.debug({ replayMs: Math.round(this.#pending.durationMs) }, 'asr session opened');
      if (this.#audioEnded) this.#sendCloseStream(conn);
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (status === 401 || status === 403) this.#onAuthRefused(conn, status);
      else this.#onDrop(conn, new Error(`the upgrade was answered with HTTP ${status}`));
    });
    ws.on('message', (data, isBinary) => this.#onMessage(conn, data, isBinary));
    ws.on('error', (err) => this.#onDrop(conn, err));
    ws.on('close', (code) => this.#onDrop(conn, new Error(`closed with code ${code}`)));
  }

  #onMessage(conn: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (conn.retired) return;
    let message: { type?: unknown };
    try {
      if (isBinary) throw new Error('binary message');
      message = JSON.parse(String(data)) as typeof message;
      if (message === null || typeof message !== 'object') throw new Error('not an object');
    } catch (err) {
      this.#onDrop(conn, new Error('Deepgram sent a message that is not JSON', { cause: err }));
      return;
    }
    conn.awaiting = false;
    conn.lastMessageAt = performance.now();
    if (message.type === 'Results') {
      this.#reconnect.reset();
      this.#onResults(message as ResultsMessage);
    } else if (message.type === 'UtteranceEnd') {
      this.#reconnect.reset();
      this.#closeUtterance();
    }
    // SpeechStarted and Metadata carry nothing the call needs.
  }

  #onResults(message: ResultsMessage): void {
    const transcript = message.channel?.alternatives?.[0]?.transcript;
    const text = typeof transcript === 'string' ? transcript.trim() : '';
    if (message.is_final !== true) {
      if (text === '' || text === this.#lastPartial) return;
      this.#speaking = true;
      this.#lastPartial = text;
      this.#events.push({ type: 'partial', text });
      this.#log.debug({ text }, 'asr partial');
      return;
    }
    const { start, duration } = message;
    if (typeof start === 'number' && typeof duration === 'number') {
      // A final result covers its audio for good: that part is never replayed.
      this.#pending.finalizeTo((start + duration) * 1000);
    } else if (!this.#speaking && text === '') {
      this.#pending.keepLast(IDLE_REPLAY_MS);
    }
    this.#lastPartial = '';
    if (text !== '') {
      this.#speaking = true;
      this.#finalInUtterance = true;
      this.#events.push({ type: 'final', text });
      this.#log.debug({ text }, 'asr final');
    }
    if (message.speech_final === true) this.#closeUtterance();
  }

  /** Ends the utterance once: the EOU follows its finals, or stands alone after partials that came to nothing. */
  #closeUtterance(): void {
    if (this.#finalInUtterance || this.#speaking) this.#events.push({ type: 'eou' });
    this.#finalInUtterance = false;
    this.#speaking = false;
    this.#lastPartial = '';
  }

  #onAuthRefused(conn: Connection, status: number): void {
    if (conn.retired || this.#stopped) return;
    this.#retire(conn);
    this.#observer.providerError(PROVIDER, 'asr_auth');
    this.#log.error({ status, url: this.#config.url }, 'asr credentials refused: check DEEPGRAM_API_KEY');
    this.#fail(new VoicebotError('asr_auth', `Deepgram refused the API key (HTTP ${status})`));
  }

  #onDrop(conn: Connection, err: Error): void {
    if (conn.retired || this.#stopped) return;
    this.#retire(conn);
    if (this.#audioEnded) {
      this.#closeUtterance();
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
      this.#fail(new VoicebotError('asr_unavailable', `Deepgram at ${this.#config.url} is unavailable`, { cause: err }));
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
      this.#closeUtterance();
      this.#finish();
      return;
    }
    if (conn.open) this.#sendCloseStream(conn);
    this.#grace ??= setTimeout(() => {
      this.#closeUtterance();
      this.#finish();
    }, this.#config.endGraceMs);
  }

  /** After `CloseStream` the server sends its last results and closes: that close ends the recognition. */
  #sendCloseStream(conn: Connection): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.ws.send(DEEPGRAM_CLOSE_STREAM);
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
    clearInterval(this.#ticker);
    this.#reconnect.cancel();
    clearTimeout(this.#grace);
    if (this.#conn !== undefined) this.#retire(this.#conn);
  }
}
