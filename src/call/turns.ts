/** The turns of one call: which reply is current, what was cut, and what each exchange recorded. */
import type { Playout } from '../audiosocket/playout.js';
import type { Logger } from '../logger.js';
import type { Observer } from '../metrics/observer.js';
import type { TranscriptEntry } from './call-summary.js';
import type { Dialogue } from './dialogue.js';
import { heardText } from './heard.js';
import { TURN_STAGES, TurnTrace, type TurnLatency } from './latency-trace.js';
import { Turn, type TurnOutcome, type TurnPipeline, type UnplayedAudio } from './turn.js';

/** One turn and the caller's words it answers (none for a fixed phrase). */
export interface TurnInfo {
  turn: Turn;
  userText: string | undefined;
  /** Recorded in the history; happens once. */
  settled: boolean;
}

/** A reply cut by barge-in, kept until its utterance says whether the cut stands. */
interface CutReply {
  info: TurnInfo;
  unplayed: UnplayedAudio[];
}

/** What the registry needs from the call. */
export interface TurnsDeps {
  playout: Playout;
  callSignal: AbortSignal;
  dialogue: Dialogue;
  observer: Observer;
  log: Logger;
  /** A turn played to its end (or failed) and was recorded. */
  finished(info: TurnInfo): void;
}

/**
 * Owns the turns of a call. The history and the transcript get, once per exchange, the caller's
 * words and only what the caller heard of the reply.
 */
export class Turns {
  readonly #deps: TurnsDeps;
  readonly latencies: TurnLatency[] = [];
  readonly transcript: TranscriptEntry[] = [];
  #count = 0;
  #current: TurnInfo | undefined;
  #cut: CutReply | undefined;

  constructor(deps: TurnsDeps) {
    this.#deps = deps;
  }

  /** The reply the caller hears or is about to hear. */
  get current(): TurnInfo | undefined {
    return this.#current;
  }

  /** A reply to `userText`, not started; a speculative one queues no audio until committed. */
  reply(userText: string | undefined, pipeline: TurnPipeline, speculative = false): TurnInfo {
    const id = ++this.#count;
    const turn = new Turn({ id, trace: new TurnTrace(id), playout: this.#deps.playout, callSignal: this.#deps.callSignal, log: this.#deps.log, speculative, pipeline });
    const info: TurnInfo = { turn, userText, settled: false };
    void turn.done.then((outcome) => this.#done(info, outcome, userText === undefined));
    return info;
  }

  /** Makes `info` the current reply and starts it; an unsettled current one yields to it. */
  play(info: TurnInfo): TurnInfo {
    if (this.#current && this.#current !== info && !this.#current.settled) this.interrupt(this.#current);
    this.#current = info;
    void info.turn.start();
    return info;
  }

  /** Records an exchange once: the caller's words and what they heard of the reply. */
  settle(info: TurnInfo): void {
    if (info.settled) return;
    info.settled = true;
    const heard = heardText(info.turn.pieces());
    this.#deps.dialogue.record(info.userText, heard);
    if (info.userText !== undefined) this.transcript.push({ role: 'caller', text: info.userText });
    if (heard !== '') this.transcript.push({ role: 'bot', text: heard });
  }

  /** Stops a reply the caller talked over; the exchange is recorded with what was heard. */
  interrupt(info: TurnInfo): void {
    this.#deps.playout.clear();
    info.turn.abort('interrupted');
    this.settle(info);
    if (this.#current === info) this.#current = undefined;
  }

  /** Barge-in: the very next frame is silence, the requests are cancelled, the rest is kept. */
  cut(info: TurnInfo): void {
    this.#deps.playout.clear();
    info.turn.abort('interrupted');
    if (this.#current === info) this.#current = undefined;
    this.#cut = { info, unplayed: info.turn.unplayed() };
  }

  /** The cut stands (or is too old to resume): record what was heard. */
  confirmCut(): void {
    if (this.#cut) this.settle(this.#cut.info);
    this.#cut = undefined;
  }

  /** The cut was a false alarm: play the rest of the reply from where it stopped. False if nothing is left. */
  resumeCut(): TurnInfo | undefined {
    const cut = this.#cut;
    this.#cut = undefined;
    if (!cut) return undefined;
    if (cut.unplayed.length === 0) {
      this.settle(cut.info);
      return undefined;
    }
    const playout = this.#deps.playout;
    playout.beginStream();
    for (const { tag, pcm, sampleRate } of cut.unplayed) playout.enqueue(pcm, tag, sampleRate);
    playout.endStream();
    this.#current = cut.info;
    void playout.whenIdle().then(() => {
      if (this.#current === cut.info) this.#current = undefined;
      this.settle(cut.info);
      this.#deps.finished(cut.info);
    });
    return cut.info;
  }

  /** The call ended: stops what runs, waits for it, records every exchange left open. */
  async close(speculative: TurnInfo | undefined): Promise<void> {
    speculative?.turn.abort('discarded');
    this.#current?.turn.abort('interrupted');
    await Promise.allSettled([this.#current?.turn.done, speculative?.turn.done]);
    this.confirmCut();
    if (this.#current) this.settle(this.#current);
  }

  #done(info: TurnInfo, outcome: TurnOutcome, phrase: boolean): void {
    if (outcome === 'discarded') return;
    if (!phrase) this.#record(info, outcome);
    if (outcome === 'interrupted') return;
    this.settle(info);
    if (this.#current === info) this.#current = undefined;
    this.#deps.finished(info);
  }

  #record(info: TurnInfo, outcome: TurnOutcome): void {
    const latency = info.turn.trace.result();
    this.latencies.push(latency);
    for (const stage of TURN_STAGES) {
      const ms = latency.stages[stage];
      if (ms !== undefined) this.#deps.observer.turnStage(stage, ms);
    }
    if (latency.voiceToVoiceMs !== undefined) this.#deps.observer.turnStage('voice_to_voice', latency.voiceToVoiceMs);
    this.#deps.log.info({ turn: latency.turn, outcome, ...latency.stages, speculative: latency.speculative }, 'turn latency');
  }
}
