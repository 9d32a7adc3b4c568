import { Splitter } from './chunk-splitter.js';
import { MarkdownCleaner } from './markdown-cleaner.js';

/** Where the speakable chunker cuts a stream of model text, in characters. */
export interface ChunkerOptions {
  /** The first chunk may end at a clause boundary (, ; : —) once it is at least this long. */
  firstMinChars: number;
  /** Later chunks end at a sentence end once they are at least this long (short sentences are joined). */
  minChars: number;
  /** Later chunks also end at a clause boundary once they are at least this long. */
  clauseChars: number;
  /** No chunk is longer than this; a longer run is split at the best boundary below it. */
  maxChars: number;
  /**
   * Longest wait of `speakableChunks` for the next delta when the first chunk's end is ambiguous
   * ("3." may go on as 3.5, "example." as example.com) before it is cut anyway, ms.
   */
  ambiguousWaitMs: number;
}

/** Defaults: 250 is the longest text one Yandex UtteranceSynthesis request accepts. */
export const DEFAULT_CHUNKER_OPTIONS: Readonly<ChunkerOptions> = Object.freeze({
  firstMinChars: 20,
  minChars: 40,
  clauseChars: 120,
  maxChars: 250,
  ambiguousWaitMs: 50,
});

/** A synchronous chunker: push model deltas, get the chunks that became speakable. */
export interface Chunker {
  push(delta: string): string[];
  /** Ends the stream and returns whatever is left. */
  end(): string[];
  /** True while the first chunk is complete unless the next delta continues it (a number, an address). */
  readonly holding: boolean;
  /** No delta came in time: cuts the held first chunk as it is. */
  settle(): string[];
}

/**
 * Cuts streamed model text into chunks a TTS can speak: markdown and emoji stripped, the first
 * chunk at the first natural pause as soon as its mark arrives, later ones at sentence ends, never
 * inside numbers, dates, times, abbreviations, initials, e-mails or URLs. When the first chunk's
 * end is ambiguous, the next delta decides if it comes within `ambiguousWaitMs`.
 */
export async function* speakableChunks(
  deltas: AsyncIterable<string>,
  options: Partial<ChunkerOptions> = {},
): AsyncGenerator<string> {
  const chunker = createChunker(options);
  const waitMs = options.ambiguousWaitMs ?? DEFAULT_CHUNKER_OPTIONS.ambiguousWaitMs;
  const source = deltas[Symbol.asyncIterator]();
  let next: Promise<IteratorResult<string>> | undefined;
  let finished = false;
  try {
    for (;;) {
      next ??= source.next();
      let result: IteratorResult<string> | typeof TIMED_OUT;
      try {
        result = chunker.holding ? await withTimeout(next, waitMs) : await next;
      } catch (err) {
        finished = true;
        throw err;
      }
      if (result === TIMED_OUT) {
        yield* chunker.settle();
        continue;
      }
      next = undefined;
      if (result.done) break;
      yield* chunker.push(result.value);
    }
    finished = true;
    yield* chunker.end();
  } finally {
    if (!finished) {
      // A next() still pending (the consumer left during a settle) would queue return() behind it.
      if (next === undefined) await source.return?.();
      else {
        next.catch(() => {});
        void source.return?.().catch(() => {});
      }
    }
  }
}

const TIMED_OUT = Symbol('timed out');

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, ms, TIMED_OUT)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Creates the synchronous chunker behind `speakableChunks`. */
export function createChunker(options: Partial<ChunkerOptions> = {}): Chunker {
  const opts = { ...DEFAULT_CHUNKER_OPTIONS, ...options };
  if (opts.maxChars < 10) throw new RangeError('maxChars must be at least 10');
  const cleaner = new MarkdownCleaner();
  const splitter = new Splitter(opts);
  return {
    push(delta) {
      return splitter.push(cleaner.push(delta), false);
    },
    end() {
      return splitter.push(cleaner.end(), true);
    },
    get holding() {
      return splitter.holding;
    },
    settle() {
      return splitter.settle();
    },
  };
}
