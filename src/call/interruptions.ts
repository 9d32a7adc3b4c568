/**
 * Barge-in applied to a call: the pure decisions of `barge-in.ts` turned into cuts of the playing
 * reply, confirmed by the caller's words or undone after a false alarm.
 */
import type { Playout } from '../audiosocket/playout.js';
import type { Logger } from '../logger.js';
import type { BargeIn } from './barge-in.js';
import type { CallerAudio } from './caller-audio.js';
import type { EchoGuard } from './echo-guard.js';
import type { Turns } from './turns.js';

export interface InterruptionsDeps {
  turns: Turns;
  playout: Playout;
  caller: CallerAudio;
  echo: EchoGuard | undefined;
  /** The recognizer's words so far in the open utterance. */
  words: { readonly partial: string };
  observer: { bargeIn(): void };
  log: Logger;
  /** When the call started, epoch ms (for the log line). */
  startedAt: number;
}

export class Interruptions {
  readonly #bargeIn: BargeIn;
  readonly #deps: InterruptionsDeps;
  readonly #now: () => number;

  constructor(bargeIn: BargeIn, deps: InterruptionsDeps, now: () => number) {
    this.#bargeIn = bargeIn;
    this.#deps = deps;
    this.#now = now;
  }

  /** True while the caller's words matter as they come: a reply that a barge-in may cut, or a cut to confirm. */
  get wantsWords(): boolean {
    const current = this.#deps.turns.current;
    return (current !== undefined && !current.settled) || this.#bargeIn.pending;
  }

  /** The caller's voice or words came: cut the audible reply if the state machine says so. */
  consider(trigger: 'voice' | 'partial'): void {
    const { turns, playout, caller, echo, words } = this.#deps;
    const bargeIn = this.#bargeIn;
    const info = turns.current;
    const now = this.#now();
    const botAudible = info !== undefined && !info.settled && info.turn.committed && playout.queuedMs > 0;
    const partial = echo?.isBotEcho(words.partial, info, now) ? '' : words.partial;
    if (!info || !bargeIn.shouldCut({ botAudible, speaking: caller.speaking, partial })) return;
    turns.cut(info);
    echo?.botStopped(info, now);
    bargeIn.cut(now);
    this.#deps.observer.bargeIn();
    this.#deps.log.info({ turn: info.turn.id, trigger, atMs: Math.round(Date.now() - this.#deps.startedAt) }, 'barge-in');
  }

  /** The caller's utterance had words: a cut stands. */
  spoke(): void {
    if (this.#bargeIn.settle(true, this.#now()) !== undefined) this.#deps.turns.confirmCut();
  }

  /** The speech that cut the bot off turned out empty: resume the reply where it was cut (not while ending). */
  empty(ending: boolean): void {
    const { turns, log } = this.#deps;
    const outcome = this.#bargeIn.settle(false, this.#now());
    if (outcome === undefined) return;
    if (outcome !== 'resume' || ending) {
      turns.confirmCut();
      return;
    }
    const resumed = turns.resumeCut();
    if (resumed) log.info({ turn: resumed.turn.id }, 'barge-in was a false alarm; resuming');
  }
}
