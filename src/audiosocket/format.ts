/** The wire format of a call: rate, encoding, kind byte and frame size, as detected from its audio. */
import { frameBytes } from '../audio/pcm.js';
import { AUDIO_KIND_RATES, Kind } from './codec.js';

/** What goes on the wire for one call: rate, encoding, kind byte and payload size per 20 ms. */
export interface AudioFormat {
  sampleRate: number;
  encoding: 'slin' | 'ulaw';
  /** The AudioSocket kind byte the frames carry. */
  kind: number;
  /** Payload bytes of one 20 ms frame on the wire. */
  payloadBytes: number;
  /** True when taken from the peer's audio, false for the fallback. */
  detected: boolean;
}

/** Builds the wire format for slin at `sampleRate` with the given kind byte. */
export function slinFormat(sampleRate: number, kind: number, detected: boolean): AudioFormat {
  return { sampleRate, encoding: 'slin', kind, payloadBytes: frameBytes(sampleRate), detected };
}

/** μ-law 8 kHz labelled 0x10 with 160-byte payloads, as Asterisk's `c(ulaw)` sends it. */
export function ulawFormat(detected: boolean): AudioFormat {
  return { sampleRate: 8000, encoding: 'ulaw', kind: 0x10, payloadBytes: 160, detected };
}

/** Until the first audio frame says otherwise: 8 kHz slin, the rate the dialplan app always sends. */
export const FALLBACK_FORMAT = slinFormat(8000, Kind.Slin8k, false);

/** Detects the wire format from the first audio frame; only the size tells μ-law and old 16 kHz. */
export function detectFormat(kind: number, payloadBytes: number): AudioFormat {
  if (kind === Kind.Slin8k) {
    if (payloadBytes === 160) return ulawFormat(true);
    if (payloadBytes === 640) return slinFormat(16000, Kind.Slin8k, true);
    return slinFormat(8000, Kind.Slin8k, true);
  }
  return slinFormat(AUDIO_KIND_RATES.get(kind)!, kind, true);
}

