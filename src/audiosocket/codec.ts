/**
 * The AudioSocket wire protocol: 1 byte kind, 2 bytes payload length (big-endian), payload.
 * Audio payloads are signed 16-bit little-endian mono PCM (or μ-law, told apart only by size).
 */

import { VoicebotError } from '../errors.js';

/** Message kinds (the first byte of every message). */
export const Kind = {
  Hangup: 0x00,
  Uuid: 0x01,
  Dtmf: 0x03,
  Slin8k: 0x10,
  Slin12k: 0x11,
  Slin16k: 0x12,
  Slin24k: 0x13,
  Slin32k: 0x14,
  Slin44k: 0x15,
  Slin48k: 0x16,
  Slin96k: 0x17,
  Slin192k: 0x18,
  Error: 0xff,
} as const;

/** One of the kinds in `Kind`. */
export type KindCode = (typeof Kind)[keyof typeof Kind];

/** Sample rate of each audio kind (Asterisk 20.17 / 21.12 / 22.7 / 23.1 and later). */
export const AUDIO_KIND_RATES: ReadonlyMap<number, number> = new Map([
  [Kind.Slin8k, 8000],
  [Kind.Slin12k, 12000],
  [Kind.Slin16k, 16000],
  [Kind.Slin24k, 24000],
  [Kind.Slin32k, 32000],
  [Kind.Slin44k, 44100],
  [Kind.Slin48k, 48000],
  [Kind.Slin96k, 96000],
  [Kind.Slin192k, 192000],
]);

const KIND_BY_RATE: ReadonlyMap<number, number> = new Map([...AUDIO_KIND_RATES].map(([k, r]) => [r, k]));

/** Kind byte plus 16-bit length. */
export const HEADER_BYTES = 3;
/** The length field is 16 bits, so no payload can exceed this. */
export const MAX_PAYLOAD_BYTES = 0xffff;

/** One decoded message. */
export type Message =
  | { type: 'hangup' }
  | { type: 'uuid'; id: string }
  | { type: 'dtmf'; digit: string }
  | { type: 'audio'; kind: number; payload: Buffer }
  | { type: 'error'; code: number | undefined };

/** A malformed message: the one error this module throws, code `protocol_error`. */
export function protocolError(message: string): VoicebotError {
  return new VoicebotError('protocol_error', message);
}

/** True for 0x10–0x18. */
export function isAudioKind(kind: number): boolean {
  return AUDIO_KIND_RATES.has(kind);
}

/** The audio kind for a sample rate, or undefined if AudioSocket has none. */
export function kindForRate(sampleRate: number): number | undefined {
  return KIND_BY_RATE.get(sampleRate);
}

/** Formats 16 raw bytes as a canonical 8-4-4-4-12 lowercase UUID. */
export function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses a canonical UUID string into its 16 raw bytes. */
export function parseUuid(id: string): Buffer {
  if (!UUID_RE.test(id)) throw protocolError(`not a canonical UUID: ${JSON.stringify(id)}`);
  return Buffer.from(id.replaceAll('-', ''), 'hex');
}

const DTMF_RE = /^[0-9A-D*#]$/;

/** Decodes one message's payload; throws a protocol_error VoicebotError on anything malformed. */
export function decodeMessage(kind: number, payload: Buffer): Message {
  switch (kind) {
    case Kind.Hangup:
      return { type: 'hangup' };
    case Kind.Uuid:
      if (payload.length !== 16) throw protocolError(`UUID payload must be 16 bytes, got ${payload.length}`);
      return { type: 'uuid', id: formatUuid(payload) };
    case Kind.Dtmf: {
      if (payload.length !== 1) throw protocolError(`DTMF payload must be 1 byte, got ${payload.length}`);
      const digit = String.fromCharCode(payload[0]!).toUpperCase();
      if (!DTMF_RE.test(digit)) throw protocolError(`invalid DTMF digit 0x${payload[0]!.toString(16)}`);
      return { type: 'dtmf', digit };
    }
    case Kind.Error:
      return { type: 'error', code: payload.length > 0 ? payload[0] : undefined };
    default:
      if (!isAudioKind(kind)) throw protocolError(`unknown message kind 0x${kind.toString(16).padStart(2, '0')}`);
      if (payload.length === 0) throw protocolError('empty audio payload');
      return { type: 'audio', kind, payload };
  }
}

function header(kind: number, length: number): Buffer {
  if (length > MAX_PAYLOAD_BYTES) throw new RangeError(`payload of ${length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const head = Buffer.allocUnsafe(HEADER_BYTES);
  head[0] = kind;
  head.writeUInt16BE(length, 1);
  return head;
}

/** Encodes any message, including the kinds only Asterisk sends (used by the call simulator). */
export function encodeMessage(message: Message): Buffer {
  switch (message.type) {
    case 'hangup':
      return header(Kind.Hangup, 0);
    case 'uuid':
      return Buffer.concat([header(Kind.Uuid, 16), parseUuid(message.id)]);
    case 'dtmf':
      if (!DTMF_RE.test(message.digit)) throw protocolError(`invalid DTMF digit ${JSON.stringify(message.digit)}`);
      return Buffer.concat([header(Kind.Dtmf, 1), Buffer.from(message.digit, 'ascii')]);
    case 'error':
      return message.code === undefined ? header(Kind.Error, 0) : Buffer.concat([header(Kind.Error, 1), Buffer.of(message.code)]);
    case 'audio':
      return encodeAudio(message.kind, message.payload);
  }
}

/**
 * Encodes one audio frame as the server may send it. Asterisk hangs up on an empty audio payload
 * or a non-audio kind, so both are refused here rather than on the wire.
 */
export function encodeAudio(kind: number, payload: Buffer): Buffer {
  if (!isAudioKind(kind)) throw protocolError(`0x${kind.toString(16)} is not an audio kind`);
  if (payload.length === 0) throw protocolError('refusing to send an empty audio payload');
  return Buffer.concat([header(kind, payload.length), payload]);
}

/**
 * Writes the header of an audio frame of `payloadBytes` into `frame` (sized for header and
 * payload), for the paced writer that reuses its buffers. Refuses what `encodeAudio` refuses.
 */
export function writeAudioHeader(frame: Buffer, kind: number, payloadBytes: number): void {
  if (!isAudioKind(kind)) throw protocolError(`0x${kind.toString(16)} is not an audio kind`);
  if (payloadBytes === 0 || payloadBytes > MAX_PAYLOAD_BYTES) throw protocolError(`audio payload of ${payloadBytes} bytes`);
  frame[0] = kind;
  frame.writeUInt16BE(payloadBytes, 1);
}

/** The hangup message, the only non-audio kind the server ever sends. */
export const HANGUP_MESSAGE: Buffer = header(Kind.Hangup, 0);

const EMPTY = Buffer.alloc(0);

/**
 * Incremental reader: feed it TCP chunks as they come; it returns the complete messages in each
 * chunk and keeps partial ones for the next. Throws a protocol_error on a malformed or oversized
 * message; after that the stream is unusable and the connection should end.
 */
export class MessageReader {
  readonly #maxPayload: number;
  #pending: Buffer = EMPTY;
  #failed: VoicebotError | undefined;

  constructor(maxPayloadBytes = MAX_PAYLOAD_BYTES) {
    this.#maxPayload = maxPayloadBytes;
  }

  /** Bytes received but not yet part of a complete message. */
  get buffered(): number {
    return this.#pending.length;
  }

  /** Parses as much of the stream as is complete; throws the same error again once it has failed. */
  push(chunk: Buffer): Message[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#parse(chunk);
    } catch (err) {
      this.#failed = err instanceof VoicebotError ? err : protocolError(String(err));
      this.#pending = EMPTY;
      throw this.#failed;
    }
  }

  #parse(chunk: Buffer): Message[] {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: Message[] = [];
    let offset = 0;
    while (buf.length > offset) {
      const kind = buf[offset]!;
      // Check the kind and length before waiting for the rest, so garbage fails at once.
      if (kind !== Kind.Hangup && kind !== Kind.Uuid && kind !== Kind.Dtmf && kind !== Kind.Error && !isAudioKind(kind)) {
        throw protocolError(`unknown message kind 0x${kind.toString(16).padStart(2, '0')}`);
      }
      if (buf.length - offset < HEADER_BYTES) break;
      const length = buf.readUInt16BE(offset + 1);
      if (length > this.#maxPayload) {
        throw protocolError(`payload length ${length} exceeds the limit of ${this.#maxPayload} bytes`);
      }
      if (buf.length - offset < HEADER_BYTES + length) break;
      // Copy audio out so the caller may keep it without pinning the whole TCP chunk.
      const payload = Buffer.allocUnsafe(length);
      buf.copy(payload, 0, offset + HEADER_BYTES, offset + HEADER_BYTES + length);
      messages.push(decodeMessage(kind, payload));
      offset += HEADER_BYTES + length;
    }
    this.#pending = offset === buf.length ? EMPTY : Buffer.from(buf.subarray(offset));
    return messages;
  }
}
