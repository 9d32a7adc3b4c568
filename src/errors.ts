/**
 * The catalogue of errors: each stable code, what it means, and whether trying again may help.
 * Branch on `code`, never on message text; retryability comes from here, not from throw sites.
 */
export const ERRORS = {
  config_invalid: { retryable: false, meaning: 'the configuration (environment or agents file) is wrong' },
  protocol_error: { retryable: false, meaning: 'a peer broke its protocol' },
  asr_unavailable: { retryable: true, meaning: 'the recognizer cannot be reached, or dropped the stream' },
  asr_auth: { retryable: false, meaning: 'the recognizer refused the credentials' },
  asr_failed: { retryable: false, meaning: 'the recognizer rejected the request' },
  llm_unavailable: { retryable: true, meaning: 'the model endpoint cannot be reached, or cut the stream' },
  llm_timeout: { retryable: true, meaning: 'the model did not answer within its budget' },
  llm_failed: { retryable: false, meaning: 'the model endpoint rejected the request' },
  tts_unavailable: { retryable: true, meaning: 'the synthesizer cannot be reached, timed out, or cut the stream' },
  tts_auth: { retryable: false, meaning: 'the synthesizer refused the credentials' },
  tts_failed: { retryable: false, meaning: 'the synthesizer rejected the request' },
  ari_unavailable: { retryable: true, meaning: 'Asterisk REST Interface cannot be reached or is overloaded' },
  ari_failed: { retryable: false, meaning: 'Asterisk refused the request' },
  prompt_unreadable: { retryable: false, meaning: 'an audio prompt file cannot be read or decoded' },
} as const satisfies Record<string, { retryable: boolean; meaning: string }>;

/** One code of the catalogue. */
export type ErrorCode = keyof typeof ERRORS;

/** The one error class of the project: a stable code, its retryability and the original cause. */
export class VoicebotError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VoicebotError';
    this.code = code;
    this.retryable = ERRORS[code].retryable;
  }
}

/** True for the errors an AbortSignal produces: an abort is not a failure. */
export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR')
  );
}
