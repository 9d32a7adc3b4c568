/** What a synthesis request needs besides its text. */
export interface TtsRequest {
  /** Rate of the PCM to produce: the call's own rate. */
  sampleRate: number;
  signal: AbortSignal;
}

/**
 * A synthesizer: one speakable chunk of text in, s16le mono PCM at `sampleRate` out, streamed.
 * Throws a VoicebotError (`tts_*`) on failure; ends early without error when the signal aborts.
 */
export interface Tts {
  synthesize(text: string, request: TtsRequest): AsyncIterable<Buffer>;
  /** Opens the connections to the service now and keeps them open while idle. */
  keepWarm?(): void;
}
