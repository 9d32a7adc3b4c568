import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Asr, AsrEvent, AsrSession } from './asr.js';
import { Reconnector } from './backoff.js';
import { EventQueue } from './event-queue.js';
import { feedFrames } from './frame-feed.js';
import { Link } from './link.js';
import { PendingAudio, type AudioItem } from './pending-audio.js';
import { AudioBatcher } from './audio-batcher.js';
import { streamUnavailable, type ConnectionEvents, type Transport } from './transport.js';
import { Utterance } from './utterance.js';

/** Where recognition faults are counted (the metrics observer fits). */
export interface AsrObserver {
  providerError(provider: string, code: string): void;
}

const noObserver: AsrObserver = { providerError() {} };

/** Longest gap filled with one silence message. */
const MAX_FILL_MS = 1_000;

/** A streaming recognizer over one service's transport: every provider's shared skeleton. */
export function streamingAsr(transport: Transport, observer: AsrObserver = noObserver): Asr {
  return {
    async *transcribe(audio, session) {
      if (!transport.supportsRate(session.sampleRate)) {
        throw new VoicebotError('asr_failed', `${transport.service} cannot take ${session.sampleRate} Hz audio`);
      }
      yield* new StreamSession(transport, session, observer).run(audio);
    },
  };
}

/** One call's recognition: a chain of connections fed from one audio source, events out. */
class StreamSession {
  readonly #transport: Transport;
  readonly #rate: number;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  readonly #observer: AsrObserver;
  readonly #events = new EventQueue<AsrEvent>();
  readonly #utterance: Utterance;
  readonly #pending: PendingAudio;
  readonly #reconnect: Reconnector;
  readonly #batcher: AudioBatcher;
  #link: Link | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #grace: NodeJS.Timeout | undefined;
  /** Last caller frame or filled gap. */
  #lastAudioAt = 0;
  #lastCallerAudioAt = 0;
  #audioEnded = false;
  #stopped = false;
  #connections = 0;

  constructor(transport: Transport, session: AsrSession, observer: AsrObserver) {
    this.#transport = transport;
    this.#rate = session.sampleRate;
    this.#signal = session.signal;
    this.#log = session.log;
    this.#observer = observer;
    this.#utterance = new Utterance(this.#events, session.log);
    this.#pending = new PendingAudio(session.sampleRate);
    this.#reconnect = new Reconnector(transport.settings.reconnect);
    this.#batcher = new AudioBatcher(session.sampleRate, transport.settings, session.partialsWanted);
  }

  async *run(audio: AsyncIterable<Buffer>): AsyncGenerator<AsrEvent> {
    if (this.#signal.aborted) return;
    const onAbort = (): void => this.#finish(false);
    this.#signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.#lastAudioAt = this.#lastCallerAudioAt = performance.now();
      this.#connect();
      const { silenceFillMs, keepAliveMs = Infinity } = this.#transport.settings;
      this.#ticker = setInterval(() => this.#tick(), Math.max(20, Math.min(silenceFillMs, keepAliveMs) / 2));
      this.#unsubscribe = feedFrames(audio, {
        frame: (frame) => this.#onFrame(frame),
        end: () => {
          if (!this.#stopped) this.#onAudioEnd();
        },
        fail: (err) => this.#fail(new VoicebotError('asr_failed', 'the caller audio source failed', { cause: err })),
      });
      yield* this.#events.drain();
    } finally {
      this.#signal.removeEventListener('abort', onAbort);
      this.#stop();
    }
  }

  /** Caller frames are whole s16le samples: the AudioSocket layer drops a trailing odd byte. */
  #onFrame(frame: Buffer): void {
    if (this.#stopped || frame.length === 0) return;
    const now = performance.now();
    this.#lastAudioAt = this.#lastCallerAudioAt = now;
    const data = this.#batcher.take(frame, now, this.#utterance.open);
    if (data !== undefined) this.#add({ kind: 'audio', data });
  }

  /** Stall detection, silence filling and keep-alives, on the clock. */
  #tick(): void {
    if (this.#audioEnded || this.#stopped) return;
    const now = performance.now();
    const link = this.#link;
    const { silenceFillMs, stallTimeoutMs, keepAliveMs } = this.#transport.settings;
    if (link?.stalled(now, stallTimeoutMs)) {
      const message = `no answer from ${this.#transport.service} for ${stallTimeoutMs} ms`;
      this.#onFault(link, streamUnavailable(message));
      return;
    }
    // Asterisk sends nothing while a silence-suppressing leg is quiet: the service's endpointer
    // needs the pause as audio, and an idle session would be closed.
    const fillFor = this.#transport.fillSilenceForMs;
    const gap = now - this.#lastAudioAt;
    if (gap >= silenceFillMs && (fillFor === undefined || this.#utterance.open || now < this.#lastCallerAudioAt + fillFor)) {
      this.#flushHeld();
      this.#lastAudioAt = now;
      this.#add({ kind: 'silence', ms: Math.round(Math.min(MAX_FILL_MS, gap)) });
      return;
    }
    link?.keepAlive(now, keepAliveMs);
  }

  #flushHeld(): void {
    const held = this.#batcher.flush();
    if (held !== undefined) this.#add({ kind: 'audio', data: held });
  }

  #add(item: AudioItem): void {
    this.#pending.push(item);
    const link = this.#link;
    if (link === undefined || !link.open || link.ending) return;
    // With no utterance open, what was sent held no speech; audio not sent yet is never dropped.
    if (!this.#utterance.open) this.#pending.dropIdle();
    link.send(item, this.#pending.itemMs(item), performance.now());
    const limits = this.#transport.limits;
    if (limits === undefined) return;
    const rotation = link.rotation(limits, this.#utterance.open);
    // An utterance as long as a whole session must not make every new session start at the limit.
    if (rotation === 'limit' && this.#pending.durationMs > limits.maxSessionMs * 0.9) this.#pending.keepLast(limits.maxSessionMs / 2);
    if (rotation !== undefined) this.#rotate(link, rotation);
  }

  #connect(): void {
    const link = new Link();
    this.#link = link;
    this.#connections += 1;
    link.conn = this.#transport.open(this.#rate, this.#eventsOf(link));
    // A stream can be open (or failed) before `open` returns.
    if (link.retired) link.conn.close();
    else if (link.open) this.#replay(link);
  }

  #eventsOf(link: Link): ConnectionEvents {
    const live = (): boolean => !link.retired && !this.#stopped;
    return {
      opened: () => {
        if (!live() || link.open) return;
        link.opened(performance.now());
        if (link.conn !== undefined) this.#replay(link);
      },
      answered: () => {
        if (!live()) return;
        this.#reconnect.reset();
        link.answered();
      },
      partial: (text) => live() && this.#utterance.partial(text),
      final: (text) => live() && this.#utterance.final(text),
      endOfUtterance: () => {
        if (!live()) return;
        this.#batcher.utteranceEnded();
        this.#utterance.end();
      },
      finalized: (ms) => live() && this.#pending.finalizeTo(ms),
      ended: () => live() && this.#onEnded(link),
      failed: (error) => this.#onFault(link, error),
    };
  }

  /** A new stream starts its audio clock at zero with the audio not finalized yet. */
  #replay(link: Link): void {
    const now = performance.now();
    for (const item of this.#pending.replay()) link.send(item, this.#pending.itemMs(item), now);
    this.#log.debug({ connection: this.#connections, replayMs: Math.round(link.sentMs) }, 'asr session opened');
    if (this.#audioEnded) link.end();
  }

  /** The service ended the stream: with the last results, or at its limits (a new one continues). */
  #onEnded(link: Link): void {
    if (this.#audioEnded) this.#finish(true);
    else this.#rotate(link, 'ended');
  }

  /** Ends the stream and continues in a new one with the unfinalized audio. */
  #rotate(link: Link, reason: string): void {
    this.#leave(link);
    this.#retire(link);
    this.#log.debug({ reason, sentMs: Math.round(link.sentMs), sentBytes: link.sentBytes }, 'asr session rotated');
    this.#connect();
  }

  /** Before a connection is left: report what it finalized (and the EOU a final still waits for). */
  #leave(link: Link): void {
    link.conn?.flush?.();
    this.#utterance.leave();
  }

  #retire(link: Link): void {
    link.retired = true;
    if (this.#link === link) this.#link = undefined;
    link.conn?.close();
  }

  /** One fault, one log line: a fatal one fails the recognition, a retryable one reconnects while attempts last. */
  #onFault(link: Link, error: VoicebotError): void {
    if (link.retired || this.#stopped) return;
    this.#observer.providerError(this.#transport.provider, error.code);
    if (!error.retryable) {
      this.#retire(link);
      this.#log.error({ err: error }, error.code === 'asr_auth' ? 'asr credentials refused' : 'asr stream rejected');
      this.#fail(error);
      return;
    }
    this.#leave(link);
    this.#retire(link);
    if (this.#audioEnded) {
      this.#finish(true);
      return;
    }
    const next = this.#reconnect.schedule(() => {
      if (!this.#stopped) this.#connect();
    });
    if (next === undefined) {
      const { attempts } = this.#transport.settings.reconnect;
      const failure = streamUnavailable(`${this.#transport.service} is unavailable`, error);
      this.#log.error({ err: failure, attempts }, 'asr unavailable, giving up');
      this.#fail(failure);
      return;
    }
    // One outage, one warning: the further attempts of the same outage are at debug.
    if (next.attempt === 1) this.#log.warn({ err: error, ...next }, 'asr connection lost, reconnecting');
    else this.#log.debug({ err: error, ...next }, 'asr reconnect failed, trying again');
  }

  #onAudioEnd(): void {
    this.#flushHeld();
    this.#audioEnded = true;
    const link = this.#link;
    if (link === undefined) {
      // Between reconnect attempts: the call is over, so there is nothing left to recognize.
      this.#finish(true);
      return;
    }
    // The service finishes the last utterance, for at most `endGraceMs`.
    if (link.open) link.end();
    this.#grace ??= setTimeout(() => this.#finish(true), this.#transport.settings.endGraceMs);
  }

  /** Ends the events; with `flush`, the utterance in progress gets its last results and EOU. */
  #finish(flush: boolean): void {
    if (this.#stopped) return;
    if (flush) {
      const link = this.#link;
      if (link !== undefined && !link.retired) link.conn?.flush?.();
      this.#utterance.end();
    }
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
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    unsubscribe?.();
    clearInterval(this.#ticker);
    this.#reconnect.cancel();
    clearTimeout(this.#grace);
    if (this.#link !== undefined) this.#retire(this.#link);
  }
}
