/**
 * The call's recognition stream: caller audio in, recognizer events out, until the call ends or
 * the recognizer fails. The recognizer logs and counts its own faults; this only reports them.
 */
import type { Asr, AsrEvent, AsrSession } from '../asr/asr.js';
import { isAbortError, VoicebotError } from '../errors.js';

export interface RecognitionHandlers {
  event(event: AsrEvent): void;
  /** The first event arrived: the recognizer works. */
  working(): void;
  /** The stream failed for good (not because the call ended). */
  failed(code: string): void | Promise<void>;
}

/** Streams `audio` through `asr` at `sampleRate`; resolves when the stream is over either way. */
export async function recognize(
  asr: Asr,
  audio: AsyncIterable<Buffer>,
  session: AsrSession,
  handlers: RecognitionHandlers,
): Promise<void> {
  let working = false;
  try {
    for await (const event of asr.transcribe(audio, session)) {
      if (session.signal.aborted) return;
      if (!working) {
        working = true;
        handlers.working();
      }
      if (event.type === 'final') session.log.debug({ text: event.text }, 'recognized');
      handlers.event(event);
    }
  } catch (err) {
    if (session.signal.aborted || isAbortError(err)) return;
    await handlers.failed(err instanceof VoicebotError ? err.code : 'asr_failed');
  }
}
