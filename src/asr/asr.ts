import type { Logger } from '../logger.js';

/** What a recognizer reports about the caller's speech. */
export type AsrEvent =
  | { type: 'partial'; text: string }
  | { type: 'final'; text: string }
  /**
   * The recognizer decided the caller finished the utterance: after its final, or alone when
   * partials ended without one (noise, a cough).
   */
  | { type: 'eou' };

export interface AsrSession {
  /** Rate of the audio given to `transcribe` (8000 or 16000): the call's own rate. */
  sampleRate: number;
  signal: AbortSignal;
  log: Logger;
  /**
   * True while something acts on the recognizer's partials as they come (a reply a barge-in could
   * cut); while false, voice may reach the service in fewer, longer messages. Unset: always true.
   */
  partialsWanted?: () => boolean;
}

/**
 * A streaming recognizer: caller PCM (s16le, 20 ms frames) in, events out. Retryable faults are
 * handled inside (reconnect, no audio lost); a fatal one (authentication) throws a VoicebotError
 * with code `asr_auth`. The stream ends when `audio` ends or the signal aborts.
 */
export interface Asr {
  transcribe(audio: AsyncIterable<Buffer>, session: AsrSession): AsyncIterable<AsrEvent>;
  /** Opens the connection to the service now and keeps it open while idle. */
  keepWarm?(): void;
}
