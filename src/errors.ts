/** Stable error codes: branch on `code`, never on message text. */
export type ErrorCode =
  | 'config_invalid'
  | 'protocol_error'
  | 'asr_unavailable'
  | 'asr_auth'
  | 'asr_failed'
  | 'llm_unavailable'
  | 'llm_timeout'
  | 'llm_failed'
  | 'tts_unavailable'
  | 'tts_auth'
  | 'tts_failed'
  | 'ari_unavailable'
  | 'ari_failed'
  | 'prompt_unreadable';

/** The one error class of the project: a stable code, a retryable flag and the original cause. */
export class VoicebotError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VoicebotError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

/** True for the errors an AbortSignal produces: an abort is not a failure. */
export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR')
  );
}
