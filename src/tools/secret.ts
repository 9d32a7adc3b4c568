import { inspect } from 'node:util';

const REDACTED = '[redacted]';
/** Shorter values are too likely to occur by chance to be scrubbed from text. */
const MIN_SCRUB_CHARS = 6;

/** A value taken from the environment: printed, logged or serialized only as "[redacted]". */
export class Secret<T = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  /** The value itself, for the request that needs it. */
  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** The text with every occurrence of the secrets' values replaced by "[redacted]". */
export function scrub(text: string, secrets: readonly Secret[]): string {
  let out = text;
  for (const secret of secrets) {
    const value = secret.reveal();
    if (value.length >= MIN_SCRUB_CHARS) out = out.split(value).join(REDACTED);
  }
  return out;
}
