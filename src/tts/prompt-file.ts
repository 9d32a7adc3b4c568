/** Greeting and hold prompts given as audio files: WAV read directly, MP3/Ogg and others through FFmpeg. */
import { readFile } from 'node:fs/promises';
import prism from 'prism-media';
import { resample } from '../audio/resample.js';
import { parseWav } from '../audio/wav.js';
import { VoicebotError } from '../errors.js';

/** Longest prompt accepted, so that a wrong file cannot fill the memory. */
const MAX_PROMPT_BYTES = 64 * 1024 * 1024;

/**
 * Loads an audio file as s16le mono PCM at `sampleRate`. WAV (16-bit PCM, mono or stereo) needs
 * nothing else; other formats are decoded by FFmpeg when it is installed. Every failure is a
 * VoicebotError `prompt_unreadable` naming the file and the reason.
 */
export async function loadPromptFile(path: string, sampleRate: number): Promise<Buffer> {
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) {
    throw new VoicebotError('prompt_unreadable', `prompt ${path}: sample rate must be 8000..48000 Hz, got ${sampleRate}`);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new VoicebotError('prompt_unreadable', `prompt ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (bytes.length > MAX_PROMPT_BYTES) throw new VoicebotError('prompt_unreadable', `prompt ${path} is larger than ${MAX_PROMPT_BYTES} bytes`);
  if (bytes.length >= 12 && bytes.toString('ascii', 0, 4) === 'RIFF' && bytes.toString('ascii', 8, 12) === 'WAVE') {
    try {
      const wav = parseWav(bytes, path);
      return resample(wav.pcm, wav.sampleRate, sampleRate);
    } catch (err) {
      // A WAV that is not 16-bit PCM (float, 8-bit, µ-law) can still be converted by FFmpeg.
      if (!hasFfmpeg()) throw new VoicebotError('prompt_unreadable', `prompt ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!hasFfmpeg()) {
    throw new VoicebotError('prompt_unreadable', `prompt ${path}: ffmpeg not found: install ffmpeg to use MP3/Ogg prompts`);
  }
  return decodeWithFfmpeg(path, bytes, sampleRate);
}

function hasFfmpeg(): boolean {
  try {
    prism.FFmpeg.getInfo();
    return true;
  } catch {
    return false;
  }
}

function decodeWithFfmpeg(path: string, bytes: Buffer, sampleRate: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const fail = (reason: string, cause?: unknown): void => {
      reject(new VoicebotError('prompt_unreadable', `prompt ${path} cannot be decoded: ${reason}`, { cause }));
    };
    const ffmpeg = new prism.FFmpeg({
      args: ['-analyzeduration', '0', '-loglevel', 'error', '-i', '-', '-f', 's16le', '-acodec', 'pcm_s16le', '-ar', String(sampleRate), '-ac', '1'],
    });
    const parts: Buffer[] = [];
    let size = 0;
    ffmpeg.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      size += chunk.length;
    });
    ffmpeg.once('error', (err: Error) => fail(err.message, err));
    ffmpeg.once('end', () => {
      const pcm = Buffer.concat(parts, size);
      if (pcm.length < 2) fail('ffmpeg produced no audio (not an audio file?)');
      else resolve(pcm.length % 2 === 0 ? pcm : pcm.subarray(0, pcm.length - 1));
    });
    ffmpeg.end(bytes);
  });
}
