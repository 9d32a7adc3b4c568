/** The caller's side of the audio: at the recognizer's rate, queued for it, and voice-detected. */
import type { AudioSocketCall } from '../audiosocket/call.js';
import { createResampler, type Resampler } from '../audio/resample.js';
import { EnergyVad } from '../audio/vad.js';
import { AsyncQueue } from './async-queue.js';

/** Every recognizer takes 8 and 16 kHz; audio at any other wire rate is resampled to 16 kHz for it. */
const RECOGNITION_RATES = [8000, 16000];
/** Inbound frames kept for a recognizer that is not reading (10 s): older ones are dropped. */
const QUEUE_FRAMES = 500;
/** A caller's voice counts toward barge-in while gaps in it stay under this, ms. */
const VOICE_GAP_MS = 300;

/** What one inbound frame showed. */
export interface CallerFrame {
  /** Above the voice threshold. */
  voiced: boolean;
  /** The caller's voice has lasted the barge-in minimum, gaps under 300 ms included. */
  speaking: boolean;
}

/**
 * Caller audio for one call. The recognizer's rate is fixed by the first inbound frame (8 or
 * 16 kHz; 16 kHz for any other rate); after a format change the audio is resampled, so the
 * recognizer never gets audio at a rate it was not told.
 */
export class CallerAudio {
  readonly #call: AudioSocketCall;
  readonly #vad: EnergyVad;
  readonly #queue = new AsyncQueue<Buffer>(QUEUE_FRAMES);
  #rate: number | undefined;
  #resampler: Resampler | undefined;

  constructor(call: AudioSocketCall, voice: { threshold: number; minSpeechMs: number }) {
    this.#call = call;
    this.#vad = new EnergyVad({ threshold: voice.threshold, minSpeechMs: voice.minSpeechMs, hangoverMs: VOICE_GAP_MS, gapMs: VOICE_GAP_MS });
  }

  /** The recognizer's rate, once the first frame has arrived. */
  get sampleRate(): number | undefined {
    return this.#rate;
  }

  /** The caller's voice has lasted the barge-in minimum (gaps under 300 ms included). */
  get speaking(): boolean {
    return this.#vad.speaking;
  }

  /** What the recognizer reads. */
  get audio(): AsyncIterable<Buffer> {
    return this.#queue;
  }

  /** Takes one inbound frame at the wire rate; undefined when it carried no audio. */
  push(wire: Buffer): CallerFrame | undefined {
    const rate = this.#call.currentFormat?.sampleRate ?? this.#call.playout.format.sampleRate;
    this.#rate ??= RECOGNITION_RATES.includes(rate) ? rate : 16000;
    let pcm = wire;
    if (rate !== this.#rate) {
      if (this.#resampler?.fromRate !== rate) this.#resampler = createResampler(rate, this.#rate);
      pcm = this.#resampler.process(wire);
    }
    if (pcm.length === 0) return undefined;
    this.#queue.push(pcm);
    this.#vad.push(pcm, this.#rate);
    return { voiced: this.#vad.voiced, speaking: this.#vad.speaking };
  }

  /** No more audio: the recognizer's input ends. */
  end(): void {
    this.#queue.end();
  }
}
