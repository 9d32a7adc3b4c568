/** PCM conventions: signed 16-bit little-endian mono in Buffers; 20 ms frames. */

/** One AudioSocket frame lasts 20 ms: what Asterisk sends and what it plays per frame. */
export const FRAME_MS = 20;

/** Bytes in one 20 ms frame of s16le mono at `sampleRate`. */
export function frameBytes(sampleRate: number): number {
  return pcmBytes(FRAME_MS, sampleRate);
}

/** Milliseconds of audio in `bytes` of s16le mono at `sampleRate`. */
export function pcmDurationMs(bytes: number, sampleRate: number): number {
  return (bytes / 2 / sampleRate) * 1000;
}

/** Bytes of s16le mono holding `ms` of audio at `sampleRate`, in whole samples. */
export function pcmBytes(ms: number, sampleRate: number): number {
  return Math.round((sampleRate * ms) / 1000) * 2;
}

/**
 * Sum of the squared s16le samples `from`–`to` (sample indices) of `pcm`. Read byte by byte: no
 * typed-array view to allocate per frame, any alignment, any platform byte order.
 */
export function sumOfSquares(pcm: Buffer, from = 0, to = pcm.length >> 1): number {
  let sum = 0;
  for (let i = from * 2, end = to * 2; i < end; i += 2) {
    const s = ((pcm[i]! | (pcm[i + 1]! << 8)) << 16) >> 16;
    sum += s * s;
  }
  return sum;
}
