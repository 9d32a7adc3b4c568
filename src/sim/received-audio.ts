/** Received AudioSocket frames as Asterisk plays them: each at the rate its kind (and the line) says. */
import { ulawToPcm } from '../audio/mulaw.js';
import { resample } from '../audio/resample.js';
import { AUDIO_KIND_RATES, Kind } from '../audiosocket/codec.js';

/** What the listening Asterisk makes of 0x10 frames, which the kind byte alone does not settle. */
export interface LineFormat {
  /** 0x10 payloads are μ-law (a `c(ulaw)` call); when not said, a 160-byte 0x10 payload is taken for μ-law. */
  ulaw?: boolean;
  /** Rate of 0x10 slin frames: 8000 (default), or the call's rate on Asterisk before 20.17 / 21.12 / 22.7. */
  slin8kRate?: number;
}

/** One frame's audio: s16le mono PCM and the rate it plays at. */
export interface FrameAudio {
  pcm: Buffer;
  sampleRate: number;
}

/** A μ-law 20 ms frame at 8 kHz: one byte per sample. */
const ULAW_FRAME_BYTES = 160;

/** Decodes one received frame to PCM at the rate Asterisk plays it; a RangeError for a non-audio kind. */
export function decodeFrame(kind: number, payload: Buffer, line: LineFormat = {}): FrameAudio {
  if (kind === Kind.Slin8k) {
    if (line.ulaw ?? payload.length === ULAW_FRAME_BYTES) return { pcm: ulawToPcm(payload), sampleRate: 8000 };
    return { pcm: payload, sampleRate: line.slin8kRate ?? 8000 };
  }
  const sampleRate = AUDIO_KIND_RATES.get(kind);
  if (sampleRate === undefined) throw new RangeError(`0x${kind.toString(16).padStart(2, '0')} is not an audio kind`);
  return { pcm: payload, sampleRate };
}

/**
 * Received frames joined into one PCM stream at one rate, as the caller heard them: each frame
 * decoded at its own rate and resampled to `sampleRate` (by default the highest rate received).
 */
export function heardAudio(frames: Iterable<{ kind: number; payload?: Buffer }>, line: LineFormat = {}, sampleRate?: number): FrameAudio {
  const runs: { pieces: Buffer[]; sampleRate: number }[] = [];
  for (const frame of frames) {
    if (frame.payload === undefined) continue;
    const audio = decodeFrame(frame.kind, frame.payload, line);
    const last = runs.at(-1);
    if (last !== undefined && last.sampleRate === audio.sampleRate) last.pieces.push(audio.pcm);
    else runs.push({ pieces: [audio.pcm], sampleRate: audio.sampleRate });
  }
  const rate = sampleRate ?? Math.max(line.slin8kRate ?? 8000, ...runs.map((r) => r.sampleRate));
  const pcm = Buffer.concat(runs.map((r) => (r.sampleRate === rate ? Buffer.concat(r.pieces) : resample(Buffer.concat(r.pieces), r.sampleRate, rate))));
  return { pcm, sampleRate: rate };
}
