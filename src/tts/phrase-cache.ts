/** In-memory audio of fixed phrases (greeting, fallback and error lines), synthesized once per rate. */
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Tts } from './tts.js';

/** Cached synthesis of fixed phrases for one synthesizer (one voice). */
export interface PhraseCache {
  /** The whole PCM of `text` at `sampleRate`; the signal only stops this caller's wait. */
  get(text: string, sampleRate: number, signal?: AbortSignal): Promise<Buffer>;
  /** Synthesizes every phrase at every rate ahead of the first call; failures are logged, not thrown. */
  warm(texts: readonly string[], sampleRates: readonly number[]): Promise<void>;
}

/**
 * A phrase cache over `tts`: concurrent gets of the same phrase and rate share one synthesis,
 * successes are kept for the life of the process and failures are not cached.
 */
export function createPhraseCache(tts: Tts, options: { log: Logger; timeoutMs?: number }): PhraseCache {
  const log = options.log.child({ component: 'phrase-cache' });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const entries = new Map<string, Promise<Buffer>>();

  const synthesize = async (text: string, sampleRate: number): Promise<Buffer> => {
    // Shared by every waiter, so no caller's signal may cancel it; the timeout bounds a hung provider.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const { signal } = controller;
    const parts: Buffer[] = [];
    try {
      for await (const pcm of tts.synthesize(text, { sampleRate, signal })) parts.push(pcm);
    } finally {
      clearTimeout(timer);
    }
    if (signal.aborted) throw new VoicebotError('tts_unavailable', `phrase synthesis timed out after ${timeoutMs} ms`, { retryable: true });
    const pcm = Buffer.concat(parts);
    if (pcm.length === 0) throw new VoicebotError('tts_failed', 'phrase synthesis produced no audio');
    return pcm;
  };

  const load = (text: string, sampleRate: number): Promise<Buffer> => {
    const key = `${sampleRate}\u0000${text}`;
    let entry = entries.get(key);
    if (entry === undefined) {
      const started = performance.now();
      entry = synthesize(text, sampleRate).then(
        (pcm) => {
          log.debug({ sampleRate, chars: text.length, bytes: pcm.length, ms: Math.round(performance.now() - started) }, 'phrase cached');
          return pcm;
        },
        (err: unknown) => {
          entries.delete(key);
          throw err;
        },
      );
      entries.set(key, entry);
    }
    return entry;
  };

  return {
    get(text: string, sampleRate: number, signal?: AbortSignal): Promise<Buffer> {
      const entry = load(text, sampleRate);
      if (signal === undefined) return entry;
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<Buffer>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        entry.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },

    async warm(texts: readonly string[], sampleRates: readonly number[]): Promise<void> {
      const jobs = texts.flatMap((text) => sampleRates.map((rate) => ({ text, rate })));
      const results = await Promise.allSettled(jobs.map(({ text, rate }) => load(text, rate)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0) {
        const first = failed[0]!.reason as unknown;
        log.warn({ failed: failed.length, total: jobs.length, code: first instanceof VoicebotError ? first.code : 'unknown' }, 'some phrases could not be cached');
      }
    },
  };
}
