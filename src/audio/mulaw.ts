/** G.711 μ-law ⇄ signed 16-bit little-endian PCM, as Asterisk's `ulaw` format carries it. */

const BIAS = 0x84;
const CLIP = 32635;

const DECODE_TABLE: Int16Array = (() => {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const exponent = (u >> 4) & 0x07;
    const mantissa = u & 0x0f;
    const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    table[i] = u & 0x80 ? -magnitude : magnitude;
  }
  return table;
})();

/** Decodes μ-law bytes into s16le PCM (two bytes out per byte in). */
export function ulawToPcm(ulaw: Buffer): Buffer {
  const out = Buffer.allocUnsafe(ulaw.length * 2);
  for (let i = 0; i < ulaw.length; i++) out.writeInt16LE(DECODE_TABLE[ulaw[i]!]!, i * 2);
  return out;
}

/** Encodes one s16 sample as a μ-law byte. */
export function encodeUlawSample(sample: number): number {
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** Encodes s16le PCM into μ-law, writing into `out` when given (one byte per sample). */
export function pcmToUlaw(pcm: Buffer, out: Buffer = Buffer.allocUnsafe(pcm.length >> 1), offset = 0): Buffer {
  const samples = pcm.length >> 1;
  for (let i = 0; i < samples; i++) out[offset + i] = encodeUlawSample(pcm.readInt16LE(i * 2));
  return out;
}

/** The μ-law byte for digital silence. */
export const ULAW_SILENCE = 0xff;
