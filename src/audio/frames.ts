/** Framing and level helpers for s16le mono PCM. */
import { frameBytes, pcmBytes } from './pcm.js';
import { rms } from './vad.js';

/** Splits PCM into 20 ms frames at `sampleRate`; the last frame is padded with silence. */
export function toFrames(pcm: Buffer, sampleRate: number): Buffer[] {
  const size = frameBytes(sampleRate);
  const frames: Buffer[] = [];
  for (let offset = 0; offset < pcm.length; offset += size) {
    const chunk = pcm.subarray(offset, offset + size);
    if (chunk.length === size) frames.push(chunk);
    else {
      const last = Buffer.alloc(size);
      chunk.copy(last);
      frames.push(last);
    }
  }
  return frames;
}

/** A frame of digital silence at `sampleRate`. */
export function silenceFrame(sampleRate: number): Buffer {
  return Buffer.alloc(frameBytes(sampleRate));
}

/** `ms` milliseconds of digital silence at `sampleRate`. */
export function silence(ms: number, sampleRate: number): Buffer {
  return Buffer.alloc(pcmBytes(ms, sampleRate));
}

/** Joins PCM pieces into one buffer. */
export function concatPcm(pieces: readonly Buffer[]): Buffer {
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/** Level in dBFS (0 = full scale); -Infinity for digital silence. */
export function dbfs(pcm: Buffer): number {
  const level = rms(pcm);
  return level === 0 ? -Infinity : 20 * Math.log10(level / 32768);
}

/** The level (dBFS) above which a frame counts as voiced for latency measurements. */
export const VOICED_DBFS = -45;

/** True when a frame is louder than `thresholdDbfs`. */
export function isVoiced(frame: Buffer, thresholdDbfs = VOICED_DBFS): boolean {
  return dbfs(frame) > thresholdDbfs;
}

/** Milliseconds from the start of `pcm` to the end of its last voiced 20 ms frame (0 if none). */
export function voicedEndMs(pcm: Buffer, sampleRate: number, thresholdDbfs = VOICED_DBFS): number {
  const frames = toFrames(pcm, sampleRate);
  for (let i = frames.length - 1; i >= 0; i--) {
    if (isVoiced(frames[i]!, thresholdDbfs)) return (i + 1) * 20;
  }
  return 0;
}
