import { frameBytes } from '../audio/pcm.js';
import { pcmToUlaw, ULAW_SILENCE } from '../audio/mulaw.js';
import { HEADER_BYTES, writeAudioHeader } from './codec.js';
import type { AudioFormat } from './format.js';

/** One outbound audio frame being built: the whole message, and where its s16le PCM goes. */
export interface AudioFrame {
  frame: Buffer;
  pcm: Buffer;
}

/** The 20 ms frames of one wire format, header and payload in one buffer so that each is one write. */
export class WireFrames {
  readonly format: AudioFormat;
  /** s16le bytes of one frame at the wire rate (a μ-law payload is half of it). */
  readonly pcmBytes: number;
  /** Built once and written as is on every silent tick. */
  readonly silence: Buffer;
  /** PCM of a μ-law frame before it is encoded into the payload. */
  readonly #scratch: Buffer | undefined;

  constructor(format: AudioFormat) {
    this.format = format;
    this.pcmBytes = frameBytes(format.sampleRate);
    const ulaw = format.encoding === 'ulaw';
    this.silence = Buffer.alloc(HEADER_BYTES + format.payloadBytes, ulaw ? ULAW_SILENCE : 0);
    writeAudioHeader(this.silence, format.kind, format.payloadBytes);
    this.#scratch = ulaw ? Buffer.alloc(this.pcmBytes) : undefined;
  }

  /** A new frame with the header in place; its PCM is to be written to `pcm`, then `encode` it. */
  audio(): AudioFrame {
    const frame = Buffer.allocUnsafe(this.silence.length);
    frame[0] = this.silence[0]!;
    frame[1] = this.silence[1]!;
    frame[2] = this.silence[2]!;
    return { frame, pcm: this.#scratch ?? frame.subarray(HEADER_BYTES) };
  }

  /** Puts the frame's PCM into its payload: μ-law encodes it; slin PCM is the payload already. */
  encode(audio: AudioFrame): void {
    if (this.#scratch !== undefined) pcmToUlaw(this.#scratch, audio.frame, HEADER_BYTES);
  }
}
