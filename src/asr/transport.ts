/** The contract between the streaming-recognition skeleton and one recognition service. */
import { VoicebotError } from '../errors.js';
import type { StreamSettings } from './config.js';
import type { AudioItem } from './pending-audio.js';

/** A fault a new connection may not have: the service is unreachable, dropped the stream or went silent. */
export function streamUnavailable(message: string, cause?: unknown): VoicebotError {
  return new VoicebotError('asr_unavailable', message, { cause });
}

/** What a connection reports to the recognition that opened it; calls after `close()` are ignored. */
export interface ConnectionEvents {
  /** The connection takes audio now (a WebSocket after its upgrade, a gRPC stream at once). */
  opened(): void;
  /** A message came from the service: it is alive. Called before the message's own report. */
  answered(): void;
  partial(text: string): void;
  /** Final text of (a part of) the utterance; empty when the service decided it was noise. */
  final(text: string): void;
  /** The service says the caller finished the utterance. */
  endOfUtterance(): void;
  /** The service is done with the audio up to `ms` on this connection's audio clock: it is never replayed. */
  finalized(ms: number): void;
  /** The service ended the stream on its own terms: after the end of the audio, or at its limits. */
  ended(): void;
  /** The connection broke or was refused; `error.retryable` says whether a new one may do better. */
  failed(error: VoicebotError): void;
}

/** One stream to the service. Its audio clock starts at 0 with the first item sent. */
export interface Connection {
  send(item: AudioItem): void;
  /** No more audio: the service sends its last results and ends the stream. */
  end(): void;
  /** Nothing was sent for `keepAliveMs`: tell the service the caller is still there. */
  keepAlive?(): void;
  /** Reports at once any result held back (a final waiting for its normalized text). */
  flush?(): void;
  /** Closes the stream at once. */
  close(): void;
}

/** How the session length of a service is bounded (Yandex: 5 min of audio, 10 MB). */
export interface SessionLimits {
  /** Rotate at the next pause after this much audio (ms, silence included) or these many bytes. */
  rotateAfterMs: number;
  rotateAfterBytes: number;
  /** Rotate at once, pause or not, at this much audio or these many bytes. */
  maxSessionMs: number;
  maxSessionBytes: number;
}

/** A recognition service as the skeleton drives it: settings, limits and a way to open a stream. */
export interface Transport {
  /** Provider label for metrics. */
  provider: string;
  /** The service as an error message names it, e.g. `Vosk server at ws://…`. */
  service: string;
  settings: StreamSettings & { keepAliveMs?: number };
  /** Fill gaps in the caller's audio only this long after the caller's last frame (unless speech is open); undefined = always. */
  fillSilenceForMs?: number;
  limits?: SessionLimits;
  supportsRate(sampleRate: number): boolean;
  /** Opens a stream for audio at `sampleRate`; reports through `events`. */
  open(sampleRate: number, events: ConnectionEvents): Connection;
}
