import { pcmBytes, pcmDurationMs } from '../audio/pcm.js';
import { isAbortError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Playout } from '../audiosocket/playout.js';
import type { SpokenPiece } from './heard.js';
import type { TurnTrace } from './latency-trace.js';

/** One piece of synthesized audio of a reply, in chunk order. */
export interface ReplyAudio {
  index: number;
  text: string;
  pcm: Buffer;
  /** Rate of `pcm`, Hz: the wire rate when its synthesis started. */
  sampleRate: number;
  /** True on the last piece of chunk `index`. */
  last: boolean;
}

/** Audio of a turn the caller has not heard yet, at its own rate. */
export interface UnplayedAudio {
  tag: string;
  pcm: Buffer;
  sampleRate: number;
}

/** The stages a turn runs, composed by the caller: text deltas → chunks → audio. */
export interface TurnPipeline {
  /** The reply's text deltas (LLM, or a fixed phrase). */
  deltas(signal: AbortSignal): AsyncIterable<string>;
  /** Speakable chunks from text deltas. */
  chunks(deltas: AsyncIterable<string>): AsyncIterable<string>;
  /** Audio for the chunks, strictly in order. */
  audio(chunks: AsyncIterable<string>, signal: AbortSignal): AsyncIterable<ReplyAudio>;
}

export type TurnOutcome = 'played' | 'interrupted' | 'discarded' | 'failed';

/** What a chunk of this turn sent to the playout, kept to account for what was heard. */
interface ChunkAudio {
  text: string;
  tag: string;
  buffers: { pcm: Buffer; sampleRate: number }[];
  ms: number;
}

/**
 * One bot reply, abortable as a unit. Everything upstream of the playout runs as fast as the
 * providers allow; audio is queued only once the turn is committed (speculative turns wait).
 */
export class Turn {
  readonly id: number;
  readonly trace: TurnTrace;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal;
  readonly #playout: Playout;
  readonly #log: Logger;
  readonly #chunks: ChunkAudio[] = [];
  readonly #onTagStart: (tag: string, at: number) => void;
  #commit!: () => void;
  readonly #committed: Promise<void>;
  #isCommitted: boolean;
  #outcome: TurnOutcome | undefined;
  readonly #pipeline: TurnPipeline;
  #started = false;
  #finished!: (outcome: TurnOutcome) => void;
  /** Resolves when the started turn has finished: all its audio played, or it was stopped. */
  readonly done: Promise<TurnOutcome>;

  constructor(opts: {
    id: number;
    trace: TurnTrace;
    playout: Playout;
    callSignal: AbortSignal;
    pipeline: TurnPipeline;
    log: Logger;
    speculative?: boolean;
  }) {
    this.id = opts.id;
    this.trace = opts.trace;
    this.#playout = opts.playout;
    this.#log = opts.log;
    this.#signal = AbortSignal.any([opts.callSignal, this.#controller.signal]);
    this.#isCommitted = !opts.speculative;
    this.#committed = this.#isCommitted ? Promise.resolve() : new Promise((resolve) => (this.#commit = resolve));
    this.trace.speculative = opts.speculative ?? false;
    this.#onTagStart = (tag, at) => {
      if (tag.startsWith(`t${this.id}.`)) this.trace.mark('first_frame', at);
    };
    this.#pipeline = opts.pipeline;
    this.done = new Promise((resolve) => (this.#finished = resolve));
  }

  /** Runs the turn, once; its caller decides when. Resolves like `done`. */
  start(): Promise<TurnOutcome> {
    if (!this.#started) {
      this.#started = true;
      this.#playout.on('tagStart', this.#onTagStart);
      void this.#run(this.#pipeline)
        .finally(() => this.#playout.off('tagStart', this.#onTagStart))
        .then(this.#finished);
    }
    return this.done;
  }

  get committed(): boolean {
    return this.#isCommitted;
  }

  /** Lets a speculative turn's audio reach the playout. */
  commit(): void {
    if (this.#isCommitted) return;
    this.#isCommitted = true;
    this.#commit();
  }

  /** Stops the turn: LLM and TTS requests are cancelled; queued audio is the caller's to clear. */
  abort(outcome: 'interrupted' | 'discarded'): void {
    this.#outcome ??= outcome;
    if (outcome === 'interrupted') this.trace.interrupted = true;
    this.#controller.abort(outcome);
  }

  /** What each chunk of this turn sent to the playout and how much of it was written. */
  pieces(): SpokenPiece[] {
    return this.#chunks.map((c) => ({
      text: c.text,
      totalMs: c.ms,
      playedMs: this.#playout.playedMs(c.tag),
    }));
  }

  /**
   * The audio this turn queued but the caller has not heard, from the cut point on: used to
   * resume after a false-alarm barge-in, so nothing is spoken twice.
   */
  unplayed(): UnplayedAudio[] {
    const out: UnplayedAudio[] = [];
    for (const chunk of this.#chunks) {
      let skipMs = this.#playout.playedMs(chunk.tag);
      for (const { pcm, sampleRate } of chunk.buffers) {
        const ms = pcmDurationMs(pcm.length, sampleRate);
        if (skipMs >= ms) {
          skipMs -= ms;
          continue;
        }
        const skip = pcmBytes(skipMs, sampleRate);
        out.push({ tag: chunk.tag, pcm: skip > 0 ? pcm.subarray(skip) : pcm, sampleRate });
        skipMs = 0;
      }
    }
    return out;
  }

  async #run(pipeline: TurnPipeline): Promise<TurnOutcome> {
    const signal = this.#signal;
    let streaming = false;
    try {
      const deltas = this.#traced(pipeline.deltas(signal));
      const chunks = this.#tracedChunks(pipeline.chunks(deltas));
      for await (const piece of pipeline.audio(chunks, signal)) {
        if (piece.pcm.length > 0) this.trace.mark('tts_first_audio');
        if (!this.#isCommitted) await abortable(this.#committed, signal);
        // Re-check after every await: a late audio piece must not reach a cleared playout.
        if (signal.aborted) break;
        if (!streaming) {
          this.#playout.beginStream();
          streaming = true;
        }
        const chunk = this.#chunk(piece.index, piece.text);
        if (piece.pcm.length > 0) {
          chunk.buffers.push({ pcm: piece.pcm, sampleRate: piece.sampleRate });
          chunk.ms += pcmDurationMs(piece.pcm.length, piece.sampleRate);
          this.#playout.enqueue(piece.pcm, chunk.tag, piece.sampleRate);
        }
      }
    } catch (err) {
      if (!signal.aborted && !isAbortError(err)) {
        this.#log.warn({ turn: this.id, err }, 'reply failed');
        this.#outcome ??= 'failed';
      }
    } finally {
      if (streaming) this.#playout.endStream();
    }
    if (signal.aborted) return (this.#outcome ??= 'interrupted');
    if (streaming) await this.#playout.whenIdle();
    return (this.#outcome ??= signal.aborted ? 'interrupted' : 'played');
  }

  #chunk(index: number, text: string): ChunkAudio {
    let chunk = this.#chunks[index];
    if (chunk === undefined) {
      chunk = { text, tag: `t${this.id}.${index}`, buffers: [], ms: 0 };
      this.#chunks[index] = chunk;
    }
    return chunk;
  }

  async *#traced(deltas: AsyncIterable<string>): AsyncIterable<string> {
    for await (const delta of deltas) {
      if (delta !== '') this.trace.mark('llm_first_token');
      yield delta;
    }
  }

  async *#tracedChunks(chunks: AsyncIterable<string>): AsyncIterable<string> {
    for await (const chunk of chunks) {
      this.trace.mark('first_chunk');
      yield chunk;
    }
  }
}

/** Waits for `promise` unless `signal` aborts first (then resolves, leaving the check to the caller). */
function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
