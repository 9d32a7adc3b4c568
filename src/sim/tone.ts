/** Tone check: the pitch (zero crossings) and length (energy) of audio as the caller heard it. */
import { VOICED_DBFS } from '../audio/frames.js';
import { frameBytes } from '../audio/pcm.js';
import { decodeFrame, type LineFormat } from './received-audio.js';

/** What the tone check keeps of one frame: enough to join frames without keeping their audio. */
export interface FrameSound {
  sampleRate: number;
  samples: number;
  /** Louder than the threshold (by default `VOICED_DBFS`). */
  voiced: boolean;
  /** Sign changes inside the frame. */
  crossings: number;
  /** Positions of the first and last sign change, in (fractional) samples from the frame start; NaN if none. */
  firstCrossing: number;
  lastCrossing: number;
  /** Sign of the first and of the last non-zero sample: 1, -1, or 0 when every sample is zero. */
  firstSign: number;
  lastSign: number;
}

/** The tone heard in a run of frames. */
export interface ToneReport {
  /** Frequency from the zero crossings of the voiced frames, Hz; undefined with no full half-cycle. */
  toneHz: number | undefined;
  /** Milliseconds of voiced audio, each frame lasting its samples at its own rate. */
  soundMs: number;
  /** Milliseconds of all the audio, voiced or not. */
  audioMs: number;
  voicedFrames: number;
}

/** Summarises one frame of s16le PCM at `sampleRate` for `toneOf`. */
export function frameSound(pcm: Buffer, sampleRate: number, thresholdDbfs = VOICED_DBFS): FrameSound {
  const samples = pcm.length >> 1;
  let sum = 0;
  let crossings = 0;
  let firstCrossing = NaN;
  let lastCrossing = NaN;
  let firstSign = 0;
  let sign = 0;
  let previous = 0;
  let previousAt = 0;
  for (let i = 0; i < samples; i++) {
    const s = pcm.readInt16LE(i * 2);
    sum += s * s;
    if (s === 0) continue;
    const now = s > 0 ? 1 : -1;
    if (sign === 0) firstSign = now;
    else if (now !== sign) {
      // Where the line between the two samples crosses zero.
      const at = previousAt + ((i - previousAt) * previous) / (previous - s);
      if (crossings === 0) firstCrossing = at;
      lastCrossing = at;
      crossings++;
    }
    sign = now;
    previous = s;
    previousAt = i;
  }
  const level = samples === 0 ? 0 : Math.sqrt(sum / samples);
  const voiced = level > 0 && 20 * Math.log10(level / 32768) > thresholdDbfs;
  return { sampleRate, samples, voiced, crossings, firstCrossing, lastCrossing, firstSign, lastSign: sign };
}

/** Summarises one received frame, read at its true rate (see `decodeFrame`). */
export function receivedFrameSound(kind: number, payload: Buffer, line: LineFormat = {}, thresholdDbfs = VOICED_DBFS): FrameSound {
  const { pcm, sampleRate } = decodeFrame(kind, payload, line);
  return frameSound(pcm, sampleRate, thresholdDbfs);
}

/**
 * Pitch and length of frames in play order. The frequency is half-cycles over the time they span,
 * counted within each stretch of consecutive voiced frames (crossings across frame boundaries
 * included), so frames at different rates each count at their own rate.
 */
export function toneOf(sounds: Iterable<FrameSound>): ToneReport {
  let clock = 0;
  let soundS = 0;
  let voicedFrames = 0;
  let halfCycles = 0;
  let spanS = 0;
  let run: { first: number; last: number; count: number } | undefined;
  let sign = 0;
  const close = (): void => {
    if (run !== undefined && run.count >= 2) {
      halfCycles += run.count - 1;
      spanS += run.last - run.first;
    }
    run = undefined;
    sign = 0;
  };
  const cross = (at: number, count = 1, last = at): void => {
    if (run === undefined) run = { first: at, last, count };
    else {
      run.last = last;
      run.count += count;
    }
  };
  for (const s of sounds) {
    const seconds = s.samples / s.sampleRate;
    if (!s.voiced) close();
    else {
      voicedFrames++;
      soundS += seconds;
      if (sign !== 0 && s.firstSign !== 0 && s.firstSign !== sign) cross(clock);
      if (s.crossings > 0) cross(clock + s.firstCrossing / s.sampleRate, s.crossings, clock + s.lastCrossing / s.sampleRate);
      if (s.lastSign !== 0) sign = s.lastSign;
    }
    clock += seconds;
  }
  close();
  return {
    toneHz: spanS > 0 ? round(halfCycles / 2 / spanS) : undefined,
    soundMs: round(soundS * 1000),
    audioMs: round(clock * 1000),
    voicedFrames,
  };
}

/** A zero-length unvoiced frame: ends a stretch of voiced frames without adding time. */
const BREAK: FrameSound = { sampleRate: 1, samples: 0, voiced: false, crossings: 0, firstCrossing: NaN, lastCrossing: NaN, firstSign: 0, lastSign: 0 };

/** `toneOf` for the frames of each true rate apart, keyed by rate: shows which part of a stream that changes kind is off. */
export function toneByRate(sounds: Iterable<FrameSound>): Map<number, ToneReport> {
  const parts = new Map<number, FrameSound[]>();
  let previous: number | undefined;
  for (const s of sounds) {
    if (previous !== undefined && previous !== s.sampleRate) parts.get(previous)!.push(BREAK);
    let part = parts.get(s.sampleRate);
    if (part === undefined) parts.set(s.sampleRate, (part = []));
    part.push(s);
    previous = s.sampleRate;
  }
  return new Map([...parts].map(([rate, part]) => [rate, toneOf(part)]));
}

/** To 0.1: finer than any tone or duration check needs, and free of float noise. */
function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Pitch and length of received frames, each read at the rate its kind (and the line) says. */
export function measureTone(frames: Iterable<{ kind: number; payload: Buffer }>, line: LineFormat = {}): ToneReport {
  return toneOf([...frames].map((f) => receivedFrameSound(f.kind, f.payload, line)));
}

/** Pitch and length of plain s16le PCM at `sampleRate`, judged in 20 ms frames (the last one as long as it is). */
export function measurePcmTone(pcm: Buffer, sampleRate: number): ToneReport {
  const size = frameBytes(sampleRate);
  const sounds: FrameSound[] = [];
  for (let offset = 0; offset < pcm.length; offset += size) sounds.push(frameSound(pcm.subarray(offset, offset + size), sampleRate));
  return toneOf(sounds);
}
