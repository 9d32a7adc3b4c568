import type { AudioItem } from './pending-audio.js';
import type { Connection, SessionLimits } from './transport.js';

/** One connection of a recognition and its accounting: audio sent, answers owed, session limits. */
export class Link {
  conn: Connection | undefined;
  open = false;
  /** Left for good (rotated, failed, call over): whatever it reports is ignored. */
  retired = false;
  /** The end of audio went out: nothing more is sent on it. */
  ending = false;
  sentMs = 0;
  sentBytes = 0;
  /** When audio first went out after the service's last message; undefined while nothing is owed. */
  #owedSince: number | undefined;
  #lastSendAt = 0;

  /** The connection takes audio from `now`. */
  opened(now: number): void {
    this.open = true;
    this.#lastSendAt = now;
  }

  /** Sends one item lasting `ms`. */
  send(item: AudioItem, ms: number, now: number): void {
    this.conn!.send(item);
    this.sentMs += ms;
    if (item.kind === 'audio') this.sentBytes += item.data.length;
    this.#owedSince ??= now;
    this.#lastSendAt = now;
  }

  /** The service sent a message: nothing is owed any more. */
  answered(): void {
    this.#owedSince = undefined;
  }

  /** The one definition of a dead stream: audio went out and nothing at all came back for `timeoutMs`. */
  stalled(now: number, timeoutMs: number): boolean {
    return this.open && this.#owedSince !== undefined && now - this.#owedSince > timeoutMs;
  }

  /** Sends a keep-alive when nothing went out for `everyMs` and the service wants one. */
  keepAlive(now: number, everyMs: number | undefined): void {
    const conn = this.conn;
    if (!this.open || this.ending || everyMs === undefined || conn?.keepAlive === undefined || now - this.#lastSendAt < everyMs) return;
    this.#lastSendAt = now;
    conn.keepAlive();
  }

  /** Whether the session must rotate now (`limit`), may rotate at this pause (`pause`), or neither. */
  rotation(limits: SessionLimits, utteranceOpen: boolean): 'limit' | 'pause' | undefined {
    if (this.sentMs >= limits.maxSessionMs || this.sentBytes >= limits.maxSessionBytes) return 'limit';
    if (!utteranceOpen && (this.sentMs >= limits.rotateAfterMs || this.sentBytes >= limits.rotateAfterBytes)) return 'pause';
    return undefined;
  }

  /** No more audio: the service sends its last results and ends the stream. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.conn!.end();
  }
}
