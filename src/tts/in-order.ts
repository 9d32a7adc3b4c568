/** Synthesis of a reply's chunks ahead of playback, a few at a time, delivered strictly in order. */
import { isAbortError, VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Tts } from './tts.js';

/** One piece of a chunk's audio; the chunk's last piece has `last` set (its `pcm` may be empty). */
export interface SynthesizedAudio {
  /** Position of the chunk in the reply, from 0. */
  index: number;
  text: string;
  pcm: Buffer;
  /** Rate of `pcm`, Hz: the rate asked for when the chunk's synthesis started. */
  sampleRate: number;
  last: boolean;
  /** On the last piece of a chunk whose synthesis failed: why. The next chunks still play. */
  error?: VoicebotError;
}

/** Rate, cancellation and parallelism of `synthesizeInOrder`. */
export interface InOrderOptions {
  /** The rate to synthesize at, read as each chunk's request starts (the wire rate can change). */
  sampleRate: number | (() => number);
  /** Barge-in: everything pending is aborted and the generator ends without error. */
  signal: AbortSignal;
  /** Chunks synthesized at once, counting the one being delivered. */
  concurrency: number;
  log?: Logger;
}

interface Slot {
  index: number;
  text: string;
  sampleRate: number;
  pieces: Buffer[];
  done: boolean;
  error?: VoicebotError;
}

const EMPTY = Buffer.alloc(0);

/**
 * Synthesizes `chunks` with up to `concurrency` requests in flight (chunk k+1 is requested while
 * chunk k is still arriving) and yields the audio strictly in chunk order, streamed: chunk 0's
 * pieces flow out as they arrive. A chunk that fails is logged and ends with `error` on its last
 * piece; later chunks still play. A failure of `chunks` itself is thrown after the chunks already
 * started have been delivered.
 */
export async function* synthesizeInOrder(chunks: AsyncIterable<string>, tts: Tts, options: InOrderOptions): AsyncIterable<SynthesizedAudio> {
  const { signal, log } = options;
  const rateNow = typeof options.sampleRate === 'function' ? options.sampleRate : () => options.sampleRate as number;
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  if (signal.aborted) return;
  const stop = new AbortController();
  const inner = AbortSignal.any([signal, stop.signal]);

  const slots: (Slot | undefined)[] = [];
  let delivered = 0;
  let sourceDone = false;
  let sourceError: unknown;
  let waiters: (() => void)[] = [];
  const notify = (): void => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  const changed = (): Promise<void> => new Promise<void>((resolve) => waiters.push(resolve));
  inner.addEventListener('abort', notify, { once: true });

  const synthesize = async (slot: Slot): Promise<void> => {
    try {
      for await (const pcm of tts.synthesize(slot.text, { sampleRate: slot.sampleRate, signal: inner })) {
        if (inner.aborted) break;
        if (pcm.length === 0) continue;
        slot.pieces.push(pcm);
        notify();
      }
    } catch (err) {
      if (!inner.aborted && !isAbortError(err)) {
        slot.error = err instanceof VoicebotError ? err : new VoicebotError('tts_failed', `synthesis failed: ${(err as Error).message}`, { cause: err });
        log?.error({ err: slot.error, index: slot.index, code: slot.error.code, chars: slot.text.length }, 'chunk synthesis failed, skipping it');
      }
    } finally {
      slot.done = true;
      notify();
    }
  };

  const read = async (): Promise<void> => {
    try {
      for await (const text of chunks) {
        if (inner.aborted) break;
        if (text.trim() === '') continue;
        while (slots.length - delivered >= concurrency && !inner.aborted) await changed();
        if (inner.aborted) break;
        const slot: Slot = { index: slots.length, text, sampleRate: rateNow(), pieces: [], done: false };
        slots.push(slot);
        void synthesize(slot);
        notify();
      }
    } catch (err) {
      if (!inner.aborted && !isAbortError(err)) sourceError = err;
    } finally {
      sourceDone = true;
      notify();
    }
  };
  void read();

  try {
    for (;;) {
      // Re-checked after every await and yield: nothing is delivered after a barge-in.
      if (inner.aborted) return;
      const slot = slots[delivered];
      if (slot === undefined) {
        if (delivered >= slots.length && sourceDone) {
          if (sourceError !== undefined) throw sourceError;
          return;
        }
        await changed();
        continue;
      }
      const pcm = slot.pieces.shift();
      if (pcm !== undefined) {
        yield { index: slot.index, text: slot.text, pcm, sampleRate: slot.sampleRate, last: false };
        continue;
      }
      if (slot.done) {
        slots[delivered] = undefined;
        delivered++;
        notify();
        const end: SynthesizedAudio = { index: slot.index, text: slot.text, pcm: EMPTY, sampleRate: slot.sampleRate, last: true };
        if (slot.error !== undefined) end.error = slot.error;
        yield end;
        continue;
      }
      await changed();
    }
  } finally {
    inner.removeEventListener('abort', notify);
    // The consumer left (barge-in, end of turn): cancel whatever is still being synthesized.
    stop.abort();
    notify();
  }
}
