import { status as grpcStatus, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { rms } from '../audio/vad.js';
import { VoicebotError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import type { YandexConfig } from '../yandex/config.js';
import { authMetadata, isAuthStatus, isRetryableStatus, keepChannelWarm, sharedClient } from '../yandex/grpc.js';
import type { Asr, AsrEvent, AsrSession } from './asr.js';
import { Reconnector } from './backoff.js';
import type { YandexSttConfig } from './config.js';
import { EventQueue } from './event-queue.js';
import { PendingAudio, type AudioItem } from './pending-audio.js';
import {
  STT_PROTO, STT_SERVICE,
  type StreamingOptions, type StreamingRequest, type StreamingResponse,
} from './yandex-stt-messages.js';

/** What the Yandex recognizer needs besides its own settings. */
export interface YandexAsrDeps {
  credentials: Pick<YandexConfig, 'apiKey' | 'iamToken' | 'folderId' | 'tls'>;
  observer?: Observer;
  /** For the connection's own faults (calls log to their session's logger). */
  log?: Logger;
}

const PROVIDER = 'yandex-stt';
const SAMPLE_RATES = [8000, 16000, 48000];
/** Without a partial in progress, older audio held no speech: replay at most this much of it. */
const IDLE_REPLAY_MS = 1_000;
/** Frames quieter than this RMS (of 32768) count as silence when deciding how to batch audio messages. */
const QUIET_RMS = 200;
/**
 * After this much quiet with no utterance open, two frames go in one message: no partial, EOU or
 * barge-in waits on that audio, and it halves the message rate of callers who are listening.
 */
const QUIET_BATCH_AFTER_MS = 2_000;

/** Yandex SpeechKit v3 streaming recognition over the process-wide gRPC channel. */
export function createYandexAsr(config: YandexSttConfig, deps: YandexAsrDeps): Asr {
  const metadata = authMetadata(deps.credentials);
  const target = { endpoint: config.endpoint, tls: deps.credentials.tls };
  return {
    keepWarm() {
      keepChannelWarm(STT_PROTO, STT_SERVICE, target, (deps.log ?? silentLogger()).child({ provider: PROVIDER }));
    },
    async *transcribe(audio, session) {
      if (!SAMPLE_RATES.includes(session.sampleRate)) {
        throw new VoicebotError('asr_failed', `Yandex STT cannot take ${session.sampleRate} Hz audio (8000, 16000 or 48000)`);
      }
      const recognition = new Recognition(config, session, metadata, deps.observer ?? noopObserver, target);
      yield* recognition.run(audio);
    },
  };
}

/** The options sent first in every session: raw PCM at the call's own rate, model, language, EOU. */
export function sessionOptions(config: YandexSttConfig, sampleRate: number): StreamingOptions {
  const options: StreamingOptions = {
    recognition_model: {
      model: config.model,
      audio_format: { raw_audio: { audio_encoding: 'LINEAR16_PCM', sample_rate_hertz: sampleRate, audio_channel_count: 1 } },
      text_normalization: {
        text_normalization: config.textNormalization ? 'TEXT_NORMALIZATION_ENABLED' : 'TEXT_NORMALIZATION_DISABLED',
        profanity_filter: false,
        literature_text: false,
      },
      language_restriction: { restriction_type: 'WHITELIST', language_code: [config.language] },
      audio_processing_type: 'REAL_TIME',
    },
    eou_classifier: { default_classifier: { type: config.eouSensitivity } },
  };
  if (config.maxPauseMs !== undefined) {
    options.eou_classifier.default_classifier.max_pause_between_words_hint_ms = config.maxPauseMs;
  }
  return options;
}

interface Stream {
  call: ClientDuplexStream<StreamingRequest, StreamingResponse>;
  sentMs: number;
  sentBytes: number;
  lastResponseAt: number;
  /** Set when we stop listening to it (rotated, failed, call over): its late events are ignored. */
  retired: boolean;
}

/** One call's recognition: a chain of gRPC sessions fed from one audio source. */
class Recognition {
  readonly #config: YandexSttConfig;
  readonly #rate: number;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  readonly #metadata: Metadata;
  readonly #observer: Observer;
  readonly #target: { endpoint: string; tls: boolean };
  readonly #events = new EventQueue<AsrEvent>();
  readonly #pending: PendingAudio;
  /** Finals waiting for their normalized text, by final index. */
  readonly #unrefined = new Map<number, string>();
  #stream: Stream | undefined;
  readonly #reconnect: Reconnector;
  #filler: NodeJS.Timeout | undefined;
  #grace: NodeJS.Timeout | undefined;
  #lastAudioAt = 0;
  /** performance.now() when the current run of quiet frames began. */
  #quietSince: number | undefined;
  /** A quiet frame waiting to go out with the next one. */
  #held: Buffer | undefined;
  #audioEnded = false;
  #stopped = false;
  /** A partial with text arrived and its utterance has not reached EOU yet. */
  #speaking = false;
  /** A final was reported and its EOU has not been yet. */
  #finalBeforeEou = false;
  #lastPartial = '';
  #sessions = 0;

  constructor(config: YandexSttConfig, session: AsrSession, metadata: Metadata, observer: Observer, target: { endpoint: string; tls: boolean }) {
    this.#config = config;
    this.#reconnect = new Reconnector(config.reconnect);
    this.#rate = session.sampleRate;
    this.#signal = session.signal;
    this.#log = session.log;
    this.#metadata = metadata;
    this.#observer = observer;
    this.#target = target;
    this.#pending = new PendingAudio(session.sampleRate);
  }

  async *run(audio: AsyncIterable<Buffer>): AsyncGenerator<AsrEvent> {
    if (this.#signal.aborted) return;
    const onAbort = (): void => this.#finish(false);
    this.#signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.#lastAudioAt = performance.now();
      this.#open();
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
        this.#onAudio(frame);
      }
      if (!this.#stopped) this.#onAudioEnd();
    } catch (err) {
      if (this.#stopped) return;
      this.#fail(new VoicebotError('asr_failed', 'the caller audio source failed', { cause: err }));
    }
  }

  #onAudio(frame: Buffer): void {
    // A trailing odd byte is half a sample; it cannot be PCM s16le.
    const data = frame.length % 2 === 0 ? frame : frame.subarray(0, frame.length - 1);
    if (data.length === 0) return;
    const now = performance.now();
    this.#lastAudioAt = now;
    const idle = !this.#speaking && !this.#finalBeforeEou;
    if (idle && rms(data) < QUIET_RMS) this.#quietSince ??= now;
    else this.#quietSince = undefined;
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      this.#add({ kind: 'audio', data: Buffer.concat([held, data], held.length + data.length) });
      return;
    }
    if (this.#quietSince !== undefined && now - this.#quietSince >= QUIET_BATCH_AFTER_MS && this.#stream !== undefined) {
      this.#held = data;
      return;
    }
    this.#add({ kind: 'audio', data });
  }

  #flushHeld(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    this.#add({ kind: 'audio', data: held });
  }

  /** Asterisk sends nothing while a silence-suppressing leg is quiet: count the gap as silence. */
  #fillSilence(): void {
    if (this.#audioEnded || this.#stopped) return;
    const now = performance.now();
    const stream = this.#stream;
    if (stream !== undefined && now - stream.lastResponseAt > this.#config.stallTimeoutMs) {
      this.#onError(stream, Object.assign(new Error('no response from the service'), {
        code: grpcStatus.DEADLINE_EXCEEDED, details: 'no response from the service', metadata: new Metadata(),
      }));
      return;
    }
    const gap = now - this.#lastAudioAt;
    if (gap < this.#config.silenceFillMs) return;
    this.#flushHeld();
    this.#lastAudioAt = now;
    this.#add({ kind: 'silence', ms: Math.round(gap) });
  }

  #add(item: AudioItem): void {
    this.#pending.push(item);
    if (!this.#speaking && !this.#finalBeforeEou) this.#pending.keepLast(IDLE_REPLAY_MS);
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#send(stream, item);
    this.#checkLimits(stream);
  }

  #send(stream: Stream, item: AudioItem): void {
    if (item.kind === 'audio') {
      stream.call.write({ chunk: { data: item.data } });
      stream.sentBytes += item.data.length;
    } else {
      stream.call.write({ silence_chunk: { duration_ms: item.ms } });
    }
    stream.sentMs += this.#pending.itemMs(item);
  }

  #checkLimits(stream: Stream): void {
    const c = this.#config;
    if (stream.sentMs >= c.maxSessionMs || stream.sentBytes >= c.maxSessionBytes) {
      // An utterance as long as a whole session must not make every new session start at the limit.
      if (this.#pending.durationMs > c.maxSessionMs * 0.9) this.#pending.keepLast(c.maxSessionMs / 2);
      this.#rotate('limit');
    } else if (!this.#speaking && !this.#finalBeforeEou && (stream.sentMs >= c.rotateAfterMs || stream.sentBytes >= c.rotateAfterBytes)) {
      this.#rotate('pause');
    }
  }

  #open(): void {
    const client = sharedClient(STT_PROTO, STT_SERVICE, this.#target);
    const call = (client.RecognizeStreaming as unknown as (m: Metadata) => Stream['call'])(this.#metadata.clone());
    const stream: Stream = { call, sentMs: 0, sentBytes: 0, lastResponseAt: performance.now(), retired: false };
    this.#stream = stream;
    this.#sessions += 1;
    call.on('data', (res: StreamingResponse) => this.#onResponse(stream, res));
    call.on('error', (err: ServiceError) => this.#onError(stream, err));
    call.on('end', () => this.#onEnd(stream));
    call.write({ session_options: sessionOptions(this.#config, this.#rate) });
    for (const item of this.#pending.replay()) this.#send(stream, item);
    this.#log.debug({ session: this.#sessions, replayMs: Math.round(stream.sentMs) }, 'asr session opened');
    if (this.#audioEnded) this.#halfClose(stream);
  }

  /** Ends the current session and continues in a new one with the unfinalized audio. */
  #rotate(reason: string): void {
    const old = this.#stream;
    if (old === undefined) return;
    this.#retire(old);
    this.#leaveSession();
    this.#log.debug({ reason, sentMs: Math.round(old.sentMs), sentBytes: old.sentBytes }, 'asr session rotated');
    this.#open();
  }

  #retire(stream: Stream): void {
    stream.retired = true;
    if (this.#stream === stream) this.#stream = undefined;
    stream.call.cancel();
  }

  #onResponse(stream: Stream, res: StreamingResponse): void {
    if (stream.retired) return;
    this.#reconnect.reset();
    stream.lastResponseAt = performance.now();
    switch (res.Event) {
      case 'partial': {
        const text = res.partial?.alternatives[0]?.text ?? '';
        if (text === '' || text === this.#lastPartial) return;
        this.#speaking = true;
        this.#lastPartial = text;
        this.#events.push({ type: 'partial', text });
        this.#log.debug({ text }, 'asr partial');
        return;
      }
      case 'final': {
        const finalMs = res.audio_cursors?.final_time_ms ?? 0;
        if (finalMs > 0) this.#pending.finalizeTo(finalMs);
        const text = res.final?.alternatives[0]?.text ?? '';
        this.#lastPartial = '';
        if (text === '') return;
        this.#finalBeforeEou = true;
        if (this.#config.textNormalization) this.#unrefined.set(res.audio_cursors?.final_index ?? 0, text);
        else this.#emitFinal(text);
        return;
      }
      case 'final_refinement': {
        const index = res.final_refinement?.final_index ?? 0;
        const raw = this.#unrefined.get(index);
        if (raw === undefined) return;
        for (const [earlier, text] of this.#unrefined) {
          if (earlier >= index) break;
          this.#unrefined.delete(earlier);
          this.#emitFinal(text);
        }
        this.#unrefined.delete(index);
        const normalized = res.final_refinement?.normalized_text?.alternatives[0]?.text ?? '';
        this.#emitFinal(normalized === '' ? raw : normalized);
        return;
      }
      case 'eou_update':
        this.#closeUtterance();
        return;
      case 'status_code':
        if (res.status_code?.code_type === 'CLOSED') {
          if (this.#audioEnded) this.#finish(true);
          else this.#rotate('closed');
        }
        return;
      default:
        return;
    }
  }

  #emitFinal(text: string): void {
    this.#events.push({ type: 'final', text });
    this.#log.debug({ text }, 'asr final');
  }

  /** Reports finals still waiting for normalization and the EOU that follows them. */
  #closeUtterance(): void {
    for (const text of this.#unrefined.values()) this.#emitFinal(text);
    this.#unrefined.clear();
    // Partials that end without a final were noise: the EOU still says the caller stopped.
    if (this.#finalBeforeEou || this.#speaking) this.#events.push({ type: 'eou' });
    this.#finalBeforeEou = false;
    this.#speaking = false;
    this.#lastPartial = '';
  }

  /**
   * Before continuing in a new session: report what the old one finalized. An utterance still in
   * progress stays open (its audio is replayed); one that had its final but not its EOU gets the
   * EOU now, because the new session never saw that audio.
   */
  #leaveSession(): void {
    for (const text of this.#unrefined.values()) this.#emitFinal(text);
    this.#unrefined.clear();
    if (this.#finalBeforeEou) this.#closeUtterance();
    this.#lastPartial = '';
  }

  #onError(stream: Stream, err: ServiceError): void {
    if (stream.retired || this.#stopped) return;
    this.#retire(stream);
    if (isAuthStatus(err.code)) {
      this.#log.error({ grpcCode: err.code, details: err.details }, 'asr credentials refused');
      this.#observer.providerError(PROVIDER, 'asr_auth');
      this.#fail(new VoicebotError('asr_auth', 'Yandex SpeechKit refused the credentials', { cause: err }));
      return;
    }
    if (!isRetryableStatus(err.code)) {
      this.#log.error({ grpcCode: err.code, details: err.details }, 'asr request rejected');
      this.#observer.providerError(PROVIDER, 'asr_failed');
      this.#fail(new VoicebotError('asr_failed', `Yandex SpeechKit rejected the stream: ${err.details}`, { cause: err }));
      return;
    }
    this.#observer.providerError(PROVIDER, 'asr_unavailable');
    if (this.#audioEnded) {
      this.#finish(true);
      return;
    }
    const next = this.#reconnect.schedule(() => {
      if (!this.#stopped) this.#open();
    });
    if (next === undefined) {
      this.#log.error({ grpcCode: err.code, attempts: this.#config.reconnect.attempts }, 'asr unavailable, giving up');
      this.#fail(new VoicebotError('asr_unavailable', 'Yandex SpeechKit is unavailable', { retryable: true, cause: err }));
      return;
    }
    this.#log.warn({ grpcCode: err.code, ...next }, 'asr stream failed, reconnecting');
    this.#leaveSession();
  }

  #onEnd(stream: Stream): void {
    if (stream.retired || this.#stopped) return;
    if (this.#audioEnded) {
      this.#finish(true);
      return;
    }
    // The service ended the session on its own (limit or idle): continue in a new one.
    this.#rotate('ended');
  }

  #onAudioEnd(): void {
    this.#flushHeld();
    this.#audioEnded = true;
    const stream = this.#stream;
    if (stream === undefined) {
      // Between reconnect attempts: the call is over, so there is nothing left to recognize.
      this.#finish(true);
      return;
    }
    this.#halfClose(stream);
  }

  /** No more audio: let the service finish the last utterance, for at most `endGraceMs`. */
  #halfClose(stream: Stream): void {
    stream.call.end();
    this.#grace ??= setTimeout(() => this.#finish(true), this.#config.endGraceMs);
  }

  #finish(flush: boolean): void {
    if (this.#stopped) return;
    if (flush) this.#closeUtterance();
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
    if (this.#stream !== undefined) this.#retire(this.#stream);
  }
}
