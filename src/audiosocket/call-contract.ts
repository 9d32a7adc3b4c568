/** What a call handler sees of one AudioSocket call: its identity, audio events, playout and end. */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { AudioFormat } from './format.js';
import type { Playout } from './playout.js';

/** Why a call ended. */
export type EndReason =
  | 'peer_closed'
  | 'peer_hangup'
  | 'peer_error'
  | 'hangup_sent'
  | 'protocol_error'
  | 'idle_timeout'
  | 'write_timeout'
  | 'handler_error'
  | 'server_closed';

/** Events of a call: one inbound frame as slin at the call rate, a DTMF digit, a late format change, the end. */
export interface CallEvents {
  audio: [pcm: Buffer];
  dtmf: [digit: string];
  format: [format: AudioFormat];
  end: [reason: EndReason];
}

/** One AudioSocket call: one TCP connection after its UUID message. */
export interface AudioSocketCall extends EventEmitter<CallEvents> {
  /** The call's UUID in canonical 8-4-4-4-12 form. */
  readonly id: string;
  /** Logger with `callId` bound. */
  readonly log: Logger;
  /** Date.now() when the UUID arrived. */
  readonly startedAt: number;
  readonly remoteAddress: string | undefined;
  /** The wire format: from the first audio frame, or 8 kHz slin after the format wait. */
  readonly format: Promise<AudioFormat>;
  /** The format now in use, undefined until `format` resolves. */
  readonly currentFormat: AudioFormat | undefined;
  /** Aborted when the call ends, whoever ends it; the reason is the EndReason. */
  readonly signal: AbortSignal;
  readonly playout: Playout;
  readonly ended: boolean;
  readonly endReason: EndReason | undefined;
  /** Stops playout, sends 0x00 and closes the socket; idempotent. */
  hangUp(reason?: EndReason): void;
}
