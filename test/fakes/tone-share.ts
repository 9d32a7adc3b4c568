/** How much of a window of audio is one pure tone: what tells the TTS fakes' voice from speech. */

/** A window is a tone when this share of its power is at the tone's pitch. */
export const TONE_SHARE = 0.8;

/** Share of the power of s16le samples `data[from, to)` at `hz` (Goertzel); `sumSquares` is their total power. */
export function toneShare(data: Buffer, from: number, to: number, rate: number, hz: number, sumSquares: number): number {
  const n = (to - from) >> 1;
  if (n === 0 || sumSquares === 0) return 0;
  const w = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = from; i + 1 < to; i += 2) {
    const s0 = data.readInt16LE(i) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  // |X(hz)|² over the window; a sinusoid's power is 2|X|²/n² against a mean square of sumSquares/n.
  const magnitude = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * magnitude) / n / sumSquares;
}
