/** The echo guard of one call: the bot's own voice coming back on the line is not the caller. */
import type { Playout } from '../audiosocket/playout.js';
import { EchoDetector } from '../audio/echo-detector.js';
import type { EchoGuardConfig } from './echo-guard-config.js';
import { isEchoOfBotWords } from './echo-text.js';
import type { TurnInfo } from './turns.js';

/** A recognition of the bot's words may still arrive this long after the bot stopped, ms. */
const ECHO_TAIL_MS = 2000;

/**
 * Follows what the bot sends (every frame, for the detector's echo path) and what it says (for
 * the recognizer, which transcribes the echo as the bot's words, as a real one does).
 */
export class EchoGuard {
  readonly detector: EchoDetector;
  readonly #playout: Playout;
  /** Replies that stopped lately, newest last: their echo may still be recognized. */
  #recent: { text: string; at: number }[] = [];

  constructor(config: EchoGuardConfig, playout: Playout) {
    this.detector = new EchoDetector({ maxDelayMs: config.maxDelayMs, marginDb: config.marginDb, minLossDb: config.minLossDb });
    this.#playout = playout;
    playout.tap((pcm, sampleRate, at) => this.detector.outbound(pcm, sampleRate, at));
  }

  /** A reply stopped (played out, or cut): its words may still come back for a while. */
  botStopped(info: TurnInfo, now: number): void {
    this.#recent = this.#recent.filter((r) => now - r.at <= ECHO_TAIL_MS);
    this.#recent.push({ text: spokenText(info), at: now });
  }

  /** True when `text` is the bot's own words: of the reply being played, or of one that just stopped. */
  isBotEcho(text: string, current: TurnInfo | undefined, now: number): boolean {
    if (text.trim() === '') return false;
    if (current !== undefined && isEchoOfBotWords(text, spokenText(current))) return true;
    return this.#recent.some((r) => now - r.at <= ECHO_TAIL_MS && isEchoOfBotWords(text, r.text));
  }

  close(): void {
    this.#playout.tap(undefined);
  }
}

function spokenText(info: TurnInfo): string {
  return info.turn.pieces().map((piece) => piece.text).join(' ');
}
