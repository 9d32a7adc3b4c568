/**
 * Streaming sample-rate conversion of s16le mono PCM, backed by the SpeexDSP resampler (WASM).
 * Works between any two rates (8/16/24/48 kHz, 22050 Hz…) and carries state across chunks.
 */

/** A streaming resampler: feed chunks of any length, then flush once at the end of the stream. */
export interface Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** Resamples one chunk; an odd trailing byte is kept for the next chunk. */
  process(pcm: Buffer): Buffer;
  /** Returns the audio still held in the filter and resets the resampler for a new stream. */
  flush(): Buffer;
}

interface SpeexModule {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_destroy(state: number): void;
  _speex_resampler_process_int(state: number, channel: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
  _speex_resampler_skip_zeros(state: number): number;
  _speex_resampler_get_input_latency(state: number): number;
  _speex_resampler_reset_mem(state: number): number;
}

/**
 * Speex quality 0..10. 6 keeps a 1 kHz tone's level and frequency through 16k→8k→16k and
 * removes a 6 kHz tone from 22050→8000 entirely, at about 5 µs per 20 ms frame (16k→8k, SIMD).
 */
const QUALITY = 6;
const MIN_RATE = 1000;
const MAX_RATE = 384000;

/** Instantiates the SIMD build (about 4x faster), or the plain one where SIMD is missing. */
async function loadSpeex(): Promise<SpeexModule> {
  // Specifiers held in variables: the package ships no type declarations.
  const builds = ['@echogarden/speex-resampler-wasm/simd', '@echogarden/speex-resampler-wasm'];
  let failure: unknown;
  for (const specifier of builds) {
    try {
      const mod = (await import(specifier)) as { default: () => Promise<SpeexModule> };
      return await mod.default();
    } catch (err) {
      failure = err;
    }
  }
  throw new Error('cannot load the Speex resampler', { cause: failure });
}

// Instantiated once per process (or worker) so that `process` can stay synchronous.
const speex = await loadSpeex();

// One scratch area shared by every resampler: calls are synchronous, so they never overlap.
let scratchPtr = 0;
let scratchBytes = 0;
const lenPtrs = speex._malloc(8);

function scratch(bytes: number): number {
  if (bytes > scratchBytes) {
    if (scratchPtr !== 0) speex._free(scratchPtr);
    scratchBytes = Math.max(bytes, scratchBytes * 2, 16384);
    scratchPtr = speex._malloc(scratchBytes);
    if (scratchPtr === 0) throw new RangeError('resampler could not allocate memory');
  }
  return scratchPtr;
}

const states = new FinalizationRegistry<number>((state) => speex._speex_resampler_destroy(state));

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new RangeError(`${name} must be an integer between ${MIN_RATE} and ${MAX_RATE} Hz, got ${rate}`);
  }
}

/** Samples out of the filter for `samples` in, rounded up with room for the filter's carry. */
function outCapacity(samples: number, fromRate: number, toRate: number): number {
  return Math.ceil((samples * toRate) / fromRate) + 16;
}

class SpeexResampler implements Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  readonly #state: number;
  readonly #latency: number;
  #carry: Buffer | undefined;

  constructor(fromRate: number, toRate: number) {
    this.fromRate = fromRate;
    this.toRate = toRate;
    const errPtr = lenPtrs;
    const state = speex._speex_resampler_init(1, fromRate, toRate, QUALITY, errPtr);
    if (state === 0) throw new RangeError(`cannot resample ${fromRate} Hz to ${toRate} Hz`);
    this.#state = state;
    // Drop the filter's leading zeros so output lines up with input; flush feeds them back.
    speex._speex_resampler_skip_zeros(state);
    this.#latency = speex._speex_resampler_get_input_latency(state);
    states.register(this, state);
  }

  process(pcm: Buffer): Buffer {
    let input = pcm;
    if (this.#carry !== undefined) {
      input = Buffer.concat([this.#carry, pcm]);
      this.#carry = undefined;
    }
    if (input.length % 2 === 1) {
      this.#carry = Buffer.from(input.subarray(input.length - 1));
      input = input.subarray(0, input.length - 1);
    }
    if (input.length === 0) return Buffer.alloc(0);
    return this.#run(input);
  }

  flush(): Buffer {
    // A lone odd byte is half a sample: it cannot be played, so it is dropped.
    this.#carry = undefined;
    const tail = this.#run(Buffer.alloc(this.#latency * 2));
    speex._speex_resampler_reset_mem(this.#state);
    speex._speex_resampler_skip_zeros(this.#state);
    return tail;
  }

  #run(input: Buffer): Buffer {
    const inSamples = input.length / 2;
    const outSamples = outCapacity(inSamples, this.fromRate, this.toRate);
    const base = scratch(input.length + outSamples * 2);
    const outPtr = base + input.length;
    // Re-read HEAPU8 after malloc: memory growth replaces the view.
    speex.HEAPU8.set(input, base);
    const out: Buffer[] = [];
    let consumed = 0;
    while (consumed < inSamples) {
      const heap32 = speex.HEAPU32;
      heap32[lenPtrs >> 2] = inSamples - consumed;
      heap32[(lenPtrs >> 2) + 1] = outSamples;
      const rc = speex._speex_resampler_process_int(this.#state, 0, base + consumed * 2, lenPtrs, outPtr, lenPtrs + 4);
      if (rc !== 0) throw new RangeError(`resampler failed with code ${rc}`);
      const used = speex.HEAPU32[lenPtrs >> 2]!;
      const made = speex.HEAPU32[(lenPtrs >> 2) + 1]!;
      if (made > 0) out.push(Buffer.from(speex.HEAPU8.subarray(outPtr, outPtr + made * 2)));
      if (used === 0 && made === 0) break;
      consumed += used;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

class IdentityResampler implements Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  #carry: Buffer | undefined;

  constructor(rate: number) {
    this.fromRate = rate;
    this.toRate = rate;
  }

  process(pcm: Buffer): Buffer {
    let input = pcm;
    if (this.#carry !== undefined) {
      input = Buffer.concat([this.#carry, pcm]);
      this.#carry = undefined;
    }
    if (input.length % 2 === 1) {
      this.#carry = Buffer.from(input.subarray(input.length - 1));
      input = input.subarray(0, input.length - 1);
    }
    return input;
  }

  flush(): Buffer {
    this.#carry = undefined;
    return Buffer.alloc(0);
  }
}

/** A streaming resampler from `fromRate` to `toRate` Hz; the identity when they are equal. */
export function createResampler(fromRate: number, toRate: number): Resampler {
  checkRate('fromRate', fromRate);
  checkRate('toRate', toRate);
  return fromRate === toRate ? new IdentityResampler(fromRate) : new SpeexResampler(fromRate, toRate);
}

/** Resamples a whole s16le mono buffer at once. */
export function resample(pcm: Buffer, fromRate: number, toRate: number): Buffer {
  const r = createResampler(fromRate, toRate);
  const head = r.process(pcm);
  const tail = r.flush();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}
