import type { EnvReader } from '../config/env-reader.js';
import { parseCidr } from './allowlist.js';

/** Settings of the AudioSocket TCP server (AUDIOSOCKET_*). */
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
  /** How long to wait for the first audio frame before assuming 8 kHz slin (the app form's rate). */
  formatWaitMs: number;
  /** A call whose socket cannot be written (the peer stopped reading) for this long is ended. */
  writeTimeoutMs: number;
}

/** Reads the AUDIOSOCKET_* variables. */
export function readAudioSocketConfig(env: EnvReader): AudioSocketConfig {
  const allow = env.list('AUDIOSOCKET_ALLOW');
  for (const block of allow) {
    if (parseCidr(block) === undefined) env.problem('AUDIOSOCKET_ALLOW', `"${block}" is not a CIDR block or address`);
  }
  return {
    host: env.string('AUDIOSOCKET_HOST', '0.0.0.0'),
    port: env.int('AUDIOSOCKET_PORT', 9092, { min: 0, max: 65535 }),
    allow,
    maxCalls: env.int('AUDIOSOCKET_MAX_CALLS', 500, { min: 1 }),
    maxPayloadBytes: env.int('AUDIOSOCKET_MAX_PAYLOAD_BYTES', 8192, { min: 320, max: 65535 }),
    idleTimeoutMs: env.int('AUDIOSOCKET_IDLE_TIMEOUT_MS', 30_000, { min: 100 }),
    handshakeTimeoutMs: env.int('AUDIOSOCKET_HANDSHAKE_TIMEOUT_MS', 5_000, { min: 100 }),
    // The dialplan app hangs up after 2 s without frames, so the wait must stay well below that.
    formatWaitMs: env.int('AUDIOSOCKET_FORMAT_WAIT_MS', 300, { min: 0, max: 1500 }),
    writeTimeoutMs: env.int('AUDIOSOCKET_WRITE_TIMEOUT_MS', 5_000, { min: 100 }),
  };
}
