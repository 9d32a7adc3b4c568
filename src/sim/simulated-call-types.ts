/** How a simulated call is placed, and what it records of the frames both ways. */
import type { EchoOptions } from './echo-path.js';
import type { FrameSound } from './tone.js';

/** How to place a simulated call. */
export interface SimulatedCallOptions {
  host?: string;
  port: number;
  /** Canonical UUID sent first; random when omitted. */
  uuid?: string;
  /** Rate of the caller's audio: 8000 (kind 0x10) or 16000 (kind 0x12). */
  sampleRate?: 8000 | 16000;
  /** Label 16 kHz frames 0x10, as Asterisk before 20.17 / 21.12 / 22.7 does. */
  legacy8kLabel?: boolean;
  /** `ulaw`: 8 kHz μ-law in 160-byte 0x10 frames, as `Dial(AudioSocket/…/c(ulaw))` sends (default `slin`). */
  encoding?: 'slin' | 'ulaw';
  /** Send no frames at all for this long after the UUID, as Asterisk does until the caller's leg has audio (ms). */
  silentStartMs?: number;
  /** Send silence whenever nothing is playing, like a live phone line (default true). */
  fillSilence?: boolean;
  /** Keep received payloads (for recordings and inspection; default true). */
  keepPayload?: boolean;
  /** Classify received frames as voiced or silent (default true). */
  analyze?: boolean;
  /**
   * Keep a record object per frame sent and received (default true). Without it only
   * `arrivalsMs` is kept: what a load test with hundreds of calls needs, at a fraction of the garbage.
   */
  keepFrames?: boolean;
  /**
   * The line echoes: what the server sends comes back, `delayMs` after it arrived and `gainDb`
   * down, mixed into everything the caller sends (silence and utterances alike), as on a phone
   * line. A leg without `fillSilence` then sends frames whenever the echo is not silent.
   */
  echo?: EchoOptions;
  connectTimeoutMs?: number;
}

/** One message received from the server. */
export interface ReceivedFrame {
  /** Milliseconds since the TCP connection was established. */
  atMs: number;
  kind: number;
  bytes: number;
  voiced: boolean;
  /** Pitch and level summary at the frame's true rate (with `analyze`). */
  sound?: FrameSound;
  payload?: Buffer;
}

/** One frame the simulator sent, for matching replies to what the caller said. */
export interface SentMark {
  atMs: number;
  voiced: boolean;
  /** Which `play()` call the frame came from (0-based), or -1 for line silence. */
  clip: number;
}

/** Why a simulated call ended. */
export type CallEnd =
  | { by: 'client' }
  | { by: 'server-hangup'; atMs: number }
  | { by: 'server-close'; atMs: number }
  | { by: 'error'; atMs: number; error: Error };
