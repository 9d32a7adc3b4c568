/** WAV files: read PCM s16le (mono, or stereo mixed down to mono) and write mono s16le. */
import { readFile, writeFile } from 'node:fs/promises';

/** Decoded WAV audio: s16le mono samples and their sample rate. */
export interface WavAudio {
  sampleRate: number;
  pcm: Buffer;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Parses a WAV file's bytes; throws an Error naming what is wrong for anything else. */
export function parseWav(bytes: Buffer, name = 'WAV data'): WavAudio {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${name} is not a WAV file (no RIFF/WAVE header)`);
  }
  let fmt: { format: number; channels: number; sampleRate: number; bits: number; blockAlign: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new Error(`${name} has a truncated fmt chunk`);
      let format = bytes.readUInt16LE(body);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format code at the start of its sub-format GUID.
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= bytes.length) format = bytes.readUInt16LE(body + 24);
      fmt = {
        format,
        channels: bytes.readUInt16LE(body + 2),
        sampleRate: bytes.readUInt32LE(body + 4),
        blockAlign: bytes.readUInt16LE(body + 12),
        bits: bytes.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (fmt === undefined) throw new Error(`${name} has its data chunk before the fmt chunk`);
      if (fmt.format !== WAVE_FORMAT_PCM) throw new Error(`${name} is not integer PCM (format code ${fmt.format}); only 16-bit PCM is supported`);
      if (fmt.bits !== 16) throw new Error(`${name} has ${fmt.bits}-bit samples; only 16-bit PCM is supported`);
      if (fmt.channels !== 1 && fmt.channels !== 2) throw new Error(`${name} has ${fmt.channels} channels; only mono and stereo are supported`);
      if (fmt.sampleRate < 1000 || fmt.sampleRate > 384000) throw new Error(`${name} has an unusable sample rate ${fmt.sampleRate} Hz`);
      // Writers that stream leave the size at 0 or 0xffffffff: take what is there.
      const end = size === 0 || size === 0xffffffff ? bytes.length : Math.min(bytes.length, body + size);
      const frame = fmt.channels * 2;
      const data = bytes.subarray(body, body + Math.floor((end - body) / frame) * frame);
      return { sampleRate: fmt.sampleRate, pcm: fmt.channels === 1 ? Buffer.from(data) : downmix(data) };
    }
    // Chunks are padded to an even length.
    offset = body + size + (size % 2);
  }
  throw new Error(fmt === undefined ? `${name} has no fmt chunk` : `${name} has no data chunk`);
}

/** Averages interleaved stereo s16le into mono. */
function downmix(stereo: Buffer): Buffer {
  const frames = stereo.length / 4;
  const mono = Buffer.allocUnsafe(frames * 2);
  for (let i = 0; i < frames; i++) {
    mono.writeInt16LE((stereo.readInt16LE(i * 4) + stereo.readInt16LE(i * 4 + 2)) >> 1, i * 2);
  }
  return mono;
}

/** Reads a WAV file from disk as s16le mono at its own sample rate. */
export async function readWav(path: string): Promise<WavAudio> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseWav(bytes, path);
}

/** Encodes s16le mono PCM as a WAV file's bytes. */
export function encodeWav(pcm: Buffer, sampleRate: number): Buffer {
  const dataBytes = pcm.length - (pcm.length % 2);
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(36 + dataBytes, 4);
  head.write('WAVE', 8, 'ascii');
  head.write('fmt ', 12, 'ascii');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  head.writeUInt16LE(1, 22);
  head.writeUInt32LE(sampleRate, 24);
  head.writeUInt32LE(sampleRate * 2, 28);
  head.writeUInt16LE(2, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36, 'ascii');
  head.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([head, pcm.subarray(0, dataBytes)]);
}

/** Writes s16le mono PCM to a WAV file. */
export async function writeWav(path: string, pcm: Buffer, sampleRate: number): Promise<void> {
  await writeFile(path, encodeWav(pcm, sampleRate));
}
