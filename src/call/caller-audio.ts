/** The caller's side of the audio: at the recognizer's rate, queued for it, and voice-detected. */
import type { AudioSocketCall } from '../audiosocket/call.js';
import { performance } from 'node:perf_hooks';
import type { EchoDetector } from '../audio/echo-detector.js';
import { pcmDurationMs } from '../audio/pcm.js';
import { createResampler, type Resampler } from '../audio/resample.js';
import { EnergyVad } from '../audio/vad.js';
import { AsyncQueue } from './async-queue.js';

/** Every recognizer takes 8 and 16 kHz; audio at any other wire rate is resampled to 16 kHz for it. */
const RECOGNITION_RATES = [8000, 16000];
/** Inbound frames kept for a recognizer that is not reading (10 s): older ones are dropped. */
const QUEUE_FRAMES = 500;
/** A caller's voice counts toward barge-in while gaps in it stay under this, ms. */
const VOICE_GAP_MS = 300;
/** With the echo guard, voice is the caller's once this many of its frames were more than echo. */
const CALLER_FRAMES = 3;

/** What one inbound frame showed. */
export interface CallerFrame {
  /** Above the voice threshold. */
  voiced: boolean;
  /** Voiced and, with the echo guard, more than the echo of the bot's own voice. */
  caller: boolean;
  /** The caller's voice has lasted the barge-in minimum, gaps under 300 ms included. */
  speaking: boolean;
}

/** What the caller's side needs to know: the voice threshold and minimum, and the echo guard. */
export interface CallerVoiceSettings {
  threshold: number;
  minSpeechMs: number;
  /** Tells the bot's echo from the caller; without it any voice is the caller's. */
  echo?: EchoDetector | undefined;
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
  readonly #echo: EchoDetector | undefined;
  #rate: number | undefined;
  #resampler: Resampler | undefined;
  /** Frames of the current voice that the echo guard took for the caller, and the quiet since. */
  #callerFrames = 0;
  #quietMs = 0;

  constructor(call: AudioSocketCall, voice: CallerVoiceSettings) {
    this.#call = call;
    this.#echo = voice.echo;
    this.#vad = new EnergyVad({ threshold: voice.threshold, minSpeechMs: voice.minSpeechMs, hangoverMs: VOICE_GAP_MS, gapMs: VOICE_GAP_MS });
  }

  /** The recognizer's rate, once the first frame has arrived. */
  get sampleRate(): number | undefined {
    return this.#rate;
  }

  /**
   * The caller's voice has lasted the barge-in minimum (gaps under 300 ms included) and, with the
   * echo guard, some of it was more than the echo of the bot's own voice.
   */
  get speaking(): boolean {
    return this.#vad.speaking && (this.#echo === undefined || this.#callerFrames >= CALLER_FRAMES);
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
    const voiced = this.#vad.voiced;
    let caller = voiced;
    if (this.#echo !== undefined) {
      const verdict = this.#echo.inbound(pcm, this.#rate, performance.now());
      caller = voiced && verdict.callerLikely;
      if (voiced) {
        this.#quietMs = 0;
        if (caller) this.#callerFrames++;
      } else {
        this.#quietMs += pcmDurationMs(pcm.length, this.#rate);
        if (this.#quietMs >= VOICE_GAP_MS) this.#callerFrames = 0;
      }
    }
    return { voiced, caller, speaking: this.speaking };
  }

  /** No more audio: the recognizer's input ends. */
  end(): void {
    this.#queue.end();
  }
}
