/** In-memory audio of fixed phrases (greeting, fallback and error lines), synthesized once per rate. */
import { VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Tts } from './tts.js';

/** Cached synthesis of fixed phrases for one synthesizer (one voice). */
export interface PhraseCache {
  /** The whole PCM of `text` at `sampleRate`; the signal only stops this caller's wait. */
  get(text: string, sampleRate: number, signal?: AbortSignal): Promise<Buffer>;
  /**
   * The PCM of `text` at `sampleRate` as it becomes available: all at once when cached, piece by
   * piece while the (shared) synthesis is still running. The signal only stops this caller.
   */
  stream(text: string, sampleRate: number, signal?: AbortSignal): AsyncIterable<Buffer>;
  /** True when `text` at `sampleRate` is fully synthesized and kept. */
  has(text: string, sampleRate: number): boolean;
  /** Synthesizes every phrase at every rate ahead of the first call; failures are logged, not thrown. */
  warm(texts: readonly string[], sampleRates: readonly number[]): Promise<void>;
}

/** One phrase at one rate: its pieces so far, shared by every listener. */
interface Entry {
  parts: Buffer[];
  done: boolean;
  error: unknown;
  whole: Promise<Buffer>;
  wake: (() => void)[];
}

/**
 * A phrase cache over `tts`: concurrent requests of the same phrase and rate share one synthesis,
 * successes are kept for the life of the process and failures are not cached.
 */
export function createPhraseCache(tts: Tts, options: { log: Logger; timeoutMs?: number }): PhraseCache {
  const log = options.log.child({ component: 'phrase-cache' });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const entries = new Map<string, Entry>();

  const notify = (entry: Entry): void => {
    const woken = entry.wake;
    entry.wake = [];
    for (const wake of woken) wake();
  };

  const synthesize = async (entry: Entry, text: string, sampleRate: number): Promise<Buffer> => {
    // Shared by every listener, so no caller's signal may cancel it; the timeout bounds a hung provider.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const { signal } = controller;
    try {
      for await (const pcm of tts.synthesize(text, { sampleRate, signal })) {
        if (pcm.length === 0) continue;
        entry.parts.push(pcm);
        notify(entry);
      }
    } finally {
      clearTimeout(timer);
    }
    if (signal.aborted) throw new VoicebotError('tts_unavailable', `phrase synthesis timed out after ${timeoutMs} ms`);
    if (entry.parts.length === 0) throw new VoicebotError('tts_failed', 'phrase synthesis produced no audio');
    const pcm = entry.parts.length === 1 ? entry.parts[0]! : Buffer.concat(entry.parts);
    entry.parts = [pcm];
    return pcm;
  };

  const load = (text: string, sampleRate: number): Entry => {
    const key = `${sampleRate}\u0000${text}`;
    let entry = entries.get(key);
    if (entry !== undefined) return entry;
    const started = performance.now();
    const created: Entry = { parts: [], done: false, error: undefined, whole: Promise.resolve(Buffer.alloc(0)), wake: [] };
    created.whole = synthesize(created, text, sampleRate).then(
      (pcm) => {
        created.done = true;
        notify(created);
        log.debug({ sampleRate, chars: text.length, bytes: pcm.length, ms: Math.round(performance.now() - started) }, 'phrase cached');
        return pcm;
      },
      (err: unknown) => {
        entries.delete(key);
        created.done = true;
        created.error = err;
        notify(created);
        throw err;
      },
    );
    // Listeners of `stream` see the failure through `error`; an unobserved `whole` must not crash.
    created.whole.catch(() => {});
    entries.set(key, created);
    entry = created;
    return entry;
  };

  const waitFor = (entry: Entry, signal: AbortSignal | undefined): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.wake.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });

  return {
    get(text: string, sampleRate: number, signal?: AbortSignal): Promise<Buffer> {
      const { whole } = load(text, sampleRate);
      if (signal === undefined) return whole;
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<Buffer>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        whole.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },

    async *stream(text: string, sampleRate: number, signal?: AbortSignal): AsyncIterable<Buffer> {
      const entry = load(text, sampleRate);
      let sent = 0;
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        if (entry.error !== undefined) throw entry.error;
        // Pieces are joined into one buffer when complete: skip what this listener already has.
        const parts = entry.parts;
        let at = 0;
        for (const part of parts) {
          const end = at + part.length;
          if (end > sent) {
            const piece = part.subarray(Math.max(0, sent - at));
            sent = end;
            yield piece;
            if (signal?.aborted) throw signal.reason;
          }
          at = end;
        }
        if (entry.done) {
          if (entry.error !== undefined) throw entry.error;
          return;
        }
        await waitFor(entry, signal);
      }
    },

    has(text: string, sampleRate: number): boolean {
      const entry = entries.get(`${sampleRate}\u0000${text}`);
      return entry !== undefined && entry.done && entry.error === undefined;
    },

    async warm(texts: readonly string[], sampleRates: readonly number[]): Promise<void> {
      const jobs = texts.flatMap((text) => sampleRates.map((rate) => ({ text, rate })));
      const results = await Promise.allSettled(jobs.map(({ text, rate }) => load(text, rate).whole));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0) {
        const first = failed[0]!.reason as unknown;
        log.warn({ failed: failed.length, total: jobs.length, code: first instanceof VoicebotError ? first.code : 'unknown' }, 'some phrases could not be cached');
      }
    },
  };
}
