import type { EnvReader } from '../config/env-reader.js';

export interface AudioSocketConfig {
  host: string;
  port: number;
  /** Peers allowed to connect, as CIDR blocks; empty means everyone. */
  allow: string[];
  maxCalls: number;
  /** Largest payload accepted from a peer, in bytes. */
  maxPayloadBytes: number;
  /** A call whose peer sends nothing for this long is ended. */
  idleTimeoutMs: number;
  /** How long to wait for the UUID message after connect. */
  handshakeTimeoutMs: number;
}

export function readAudioSocketConfig(env: EnvReader): AudioSocketConfig {
  return {
    host: env.string('AUDIOSOCKET_HOST', '0.0.0.0'),
    port: env.int('AUDIOSOCKET_PORT', 9092, { min: 0, max: 65535 }),
    allow: env.list('AUDIOSOCKET_ALLOW'),
    maxCalls: env.int('AUDIOSOCKET_MAX_CALLS', 500, { min: 1 }),
    maxPayloadBytes: env.int('AUDIOSOCKET_MAX_PAYLOAD_BYTES', 8192, { min: 320, max: 65535 }),
    idleTimeoutMs: env.int('AUDIOSOCKET_IDLE_TIMEOUT_MS', 30_000, { min: 100 }),
    handshakeTimeoutMs: env.int('AUDIOSOCKET_HANDSHAKE_TIMEOUT_MS', 5_000, { min: 100 }),
  };
}
