/**
 * One call as a conversation: greet, listen, reply, and end politely. It reads like the README's
 * "How a call flows"; each concern it wires lives in a file of its own.
 */
import type { AudioSocketCall } from '../audiosocket/call.js';
import type { Logger } from '../logger.js';
import { BargeIn } from './barge-in.js';
import { summarizeCall, type CallOutcome } from './call-summary.js';
import { CallerAudio } from './caller-audio.js';
import { EchoGuard } from './echo-guard.js';
import type { EarlyEvent } from './early-events.js';
import { callTimers, systemClock, type CallTimers } from './clock.js';
import type { CallChannel, ConversationDeps } from './conversation-deps.js';
import type { Dialogue } from './dialogue.js';
import { Inactivity } from './inactivity.js';
import { Interruptions } from './interruptions.js';
import { summarizeTurns } from './latency-trace.js';
import { modelControl } from './model-control.js';
import { phrasePipeline, replyPipeline, synthesisRate } from './pipelines.js';
import { recognize } from './recognition.js';
import { Speculation, type SpeculativeReply } from './speculation.js';
import type { TurnPipeline } from './turn.js';
import { Turns, type TurnInfo } from './turns.js';
import { Utterances } from './utterances.js';

/** A reply started before the utterance ended. */
type SpeculativeTurn = SpeculativeReply & { info: TurnInfo };

export type { CallChannel, ConversationDeps };
export { holdEarlyEvents } from './early-events.js';

/** Runs one call as a conversation until it ends; resolves when everything is released. */
export async function runConversation(
  call: AudioSocketCall,
  deps: ConversationDeps,
  onSession?: (session: { goodbye(): Promise<void> }) => void,
  early: readonly EarlyEvent[] = [],
): Promise<void> {
  // Synchronously up to the listeners: audio can arrive in the same TCP chunk as the UUID.
  const conversation = new Conversation(call, deps);
  onSession?.({ goodbye: () => conversation.end('drain', deps.phrases.goodbye) });
  await conversation.run(early);
}

class Conversation {
  readonly #call: AudioSocketCall;
  readonly #deps: ConversationDeps;
  readonly #log: Logger;
  readonly #timers: CallTimers;
  readonly #caller: CallerAudio;
  readonly #echo: EchoGuard | undefined;
  readonly #channel: CallChannel | undefined;
  readonly #dialogue: Dialogue;
  readonly #turns: Turns;
  readonly #utterances: Utterances;
  readonly #interruptions: Interruptions;
  readonly #speculation: Speculation<SpeculativeTurn>;
  readonly #inactivity: Inactivity;
  #lastVoicedAt: number | undefined;
  #recognition: Promise<void> | undefined;
  #endAfterReply: CallOutcome | undefined;
  #ending = false;
  #outcome: CallOutcome | undefined;

  constructor(call: AudioSocketCall, deps: ConversationDeps) {
    this.#call = call;
    this.#deps = deps;
    this.#log = deps.log ?? call.log;
    this.#timers = callTimers(deps.clock ?? systemClock, call.signal);
    this.#echo = deps.echoGuard?.enabled ? new EchoGuard(deps.echoGuard, call.playout) : undefined;
    this.#caller = new CallerAudio(call, { threshold: deps.vadThreshold, minSpeechMs: deps.config.bargeInMinSpeechMs, echo: this.#echo?.detector });
    this.#channel = deps.channelControl?.(call.id, this.#log);
    // Read the dialplan's call-to-channel link at once, while the channel surely exists.
    void this.#channel?.resolveChannel();
    const control = modelControl({ channel: this.#channel, log: this.#log, endAfterReply: (outcome) => (this.#endAfterReply ??= outcome) });
    this.#dialogue = deps.createDialogue(control, this.#log);
    this.#turns = new Turns({
      playout: call.playout,
      callSignal: call.signal,
      dialogue: this.#dialogue,
      observer: deps.observer,
      log: this.#log,
      finished: (info) => {
        this.#echo?.botStopped(info, this.#now());
        this.#replyFinished();
      },
    });
    const transferDigit = deps.config.dtmfTransferDestination !== undefined ? deps.config.dtmfTransferDigit : undefined;
    this.#utterances = new Utterances(
      { minChars: deps.config.bargeInMinChars, dtmfTransferDigit: transferDigit, dtmfCollectMs: deps.config.dtmfCollectMs },
      this.#timers,
      {
        partial: (text) => this.#onPartial(text),
        utterance: (text, speechEndAt) => this.#onUtterance(text, speechEndAt),
        empty: () => this.#onEmptyUtterance(),
        transferDigit: () => void this.#transfer(deps.config.dtmfTransferDestination!),
      },
      () => this.#lastVoicedAt ?? this.#now(),
    );
    const bargeIn = new BargeIn({ enabled: deps.config.bargeIn, minChars: deps.config.bargeInMinChars, falseAlarmMs: deps.config.falseAlarmMs });
    const parts = { turns: this.#turns, playout: call.playout, caller: this.#caller, echo: this.#echo, words: this.#utterances };
    this.#interruptions = new Interruptions(bargeIn, { ...parts, observer: deps.observer, log: this.#log, startedAt: call.startedAt }, () => this.#now());
    this.#speculation = new Speculation(
      { enabled: deps.config.speculative, stableMs: deps.config.speculativeStableMs },
      this.#timers,
      this.#utterances,
      () => this.#lastVoicedAt ?? 0,
      (text) => {
        const info = this.#turns.reply(text, this.#replyPipeline(text), true);
        void info.turn.start();
        this.#log.debug({ turn: info.turn.id }, 'speculative reply started');
        return { info, userText: text, abort: (outcome) => info.turn.abort(outcome) };
      },
    );
    this.#inactivity = new Inactivity(deps.config.inactivityMs, this.#timers, {
      busy: () => this.#turns.current !== undefined || this.#speculation.reply !== undefined || !call.playout.idle || this.#utterances.open,
      prompt: () => {
        this.#log.info('caller silent; prompting');
        this.#playPhrase(deps.phrases.inactivity);
      },
      giveUp: () => void this.end('inactivity', deps.phrases.goodbye),
    });
  }

  async run(early: readonly EarlyEvent[]): Promise<void> {
    const call = this.#call;
    const onAudio = (pcm: Buffer) => this.#onAudio(pcm);
    const onDtmf = (digit: string) => {
      this.#inactivity.activity();
      this.#utterances.onDtmf(digit);
    };
    for (const event of early) {
      if (event.type === 'audio') onAudio(event.pcm);
      else onDtmf(event.digit);
    }
    call.on('audio', onAudio);
    call.on('dtmf', onDtmf);
    this.#timers.after(this.#deps.config.maxCallMs, () => void this.end('max_duration', this.#deps.phrases.goodbye));
    const ended = new Promise<void>((resolve) => call.signal.addEventListener('abort', () => resolve(), { once: true }));

    void this.#greet();
    await ended;

    call.off('audio', onAudio);
    call.off('dtmf', onDtmf);
    this.#echo?.close();
    this.#caller.end();
    this.#timers.cancelAll();
    this.#inactivity.stop();
    this.#channel?.detach();
    const speculative = this.#speculation.reply?.info;
    this.#speculation.stop();
    await this.#recognition;
    await this.#turns.close(speculative);
    this.#finishSummary();
  }

  /** Ends the call: stops the reply, plays a last phrase if given (within a limit), then hangs up. */
  async end(outcome: CallOutcome, phrase?: string): Promise<void> {
    if (this.#ending || this.#call.signal.aborted) return;
    this.#ending = true;
    this.#outcome = outcome;
    this.#speculation.stop();
    this.#inactivity.stop();
    if (phrase !== undefined) {
      // The phrase is a courtesy: a peer that stops reading must not hold the call open.
      let limit: { cancel(): void } | undefined;
      const timeUp = new Promise<void>((resolve) => (limit = this.#timers.after(this.#deps.config.lastPhraseMaxMs, resolve)));
      await Promise.race([this.#playPhrase(phrase).turn.done, timeUp]);
      limit?.cancel();
      if (!this.#call.signal.aborted && !this.#call.playout.idle) this.#log.warn({ outcome, limitMs: this.#deps.config.lastPhraseMaxMs }, 'last phrase not played in time; hanging up');
    }
    if (this.#call.signal.aborted) return;
    this.#log.info({ outcome }, 'ending the call');
    // A transfer needs the dialplan to continue: only the AudioSocket leg is closed.
    if (outcome !== 'transfer' && this.#channel) await this.#channel.hangup().catch(() => false);
    this.#call.hangUp('hangup_sent');
  }

  // ---- the greeting ----

  async #greet(): Promise<void> {
    // Synthesized at the wire rate: the first frame's, or the fallback's.
    await this.#call.format;
    if (this.#call.signal.aborted || this.#ending) return;
    await this.#playPhrase(this.#deps.phrases.greeting, this.#deps.greetingAudio).turn.done;
  }

  // ---- the caller: audio, recognition, utterances ----

  #onAudio(wire: Buffer): void {
    const first = this.#caller.sampleRate === undefined;
    const frame = this.#caller.push(wire);
    // There is nothing to recognize before the first frame: the recognizer opens with it.
    if (first && this.#caller.sampleRate !== undefined) this.#recognition = this.#recognize(this.#caller.sampleRate);
    if (!frame?.caller) return;
    this.#lastVoicedAt = this.#now();
    this.#inactivity.activity();
    if (frame.speaking) this.#interruptions.consider('voice');
  }

  #recognize(sampleRate: number): Promise<void> {
    // Speculative replies start on stable partials: then every partial counts as it comes.
    const partialsWanted = this.#deps.config.speculative ? () => true : () => this.#interruptions.wantsWords;
    return recognize(this.#deps.asr, this.#caller.audio, { sampleRate, signal: this.#call.signal, log: this.#log, partialsWanted }, {
      event: (event) => this.#utterances.onAsr(event),
      working: () => this.#deps.recognizerHealth?.ok(),
      failed: async (code) => {
        this.#log.info({ code }, 'speech recognition failed; ending the call');
        this.#deps.recognizerHealth?.failed(code);
        await this.end('asr_failed', this.#deps.phrases.cannotHear);
      },
    });
  }

  #onPartial(text: string): void {
    this.#inactivity.activity();
    this.#interruptions.consider('partial');
    if (!this.#ending) this.#speculation.onPartial(text);
  }

  #onUtterance(text: string, speechEndAt: number): void {
    if (this.#ending) return;
    const now = this.#now();
    if (this.#echo?.isBotEcho(text, this.#turns.current, now)) {
      // The recognizer heard the bot's own voice come back: not the caller's words.
      this.#log.debug({ chars: text.length }, 'echo of the bot ignored');
      this.#onEmptyUtterance();
      return;
    }
    this.#inactivity.answered();
    this.#interruptions.spoke();
    const speculative = this.#speculation.take(text);
    let info: TurnInfo;
    if (speculative) {
      info = speculative.info;
      info.turn.commit();
      this.#log.debug({ turn: info.turn.id }, 'speculative reply committed');
    } else {
      info = this.#turns.reply(text, this.#replyPipeline(text));
    }
    info.turn.trace.setSpeechEnd(speechEndAt);
    info.turn.trace.mark('asr_final', now);
    // The caller spoke a whole utterance over the bot without a barge-in decision (barge-in off,
    // or too short to confirm): the old reply yields to the new one.
    this.#turns.play(info);
  }

  /** The caller's speech turned out empty (or the bot's own echo). */
  #onEmptyUtterance(): void {
    this.#speculation.discard();
    this.#interruptions.empty(this.#ending);
  }

  // ---- the bot: replies and fixed phrases ----

  #replyPipeline(userText: string): TurnPipeline {
    return replyPipeline(userText, this.#dialogue, this.#deps, () => synthesisRate(this.#call.playout), this.#log);
  }

  /** Plays a fixed phrase as a turn of its own, so barge-in and heard-text work the same way. */
  #playPhrase(text: string, audio?: (sampleRate: number) => Promise<Buffer>): TurnInfo {
    // The rate when the phrase starts; a later switch is resampled by the playout.
    return this.#turns.play(this.#turns.reply(undefined, phrasePipeline(text, synthesisRate(this.#call.playout), this.#deps.phrase, audio)));
  }

  #replyFinished(): void {
    if (this.#endAfterReply && !this.#ending) {
      void this.end(this.#endAfterReply);
      return;
    }
    this.#inactivity.activity();
  }

  // ---- channel control: transfer and the model's tools ----

  async #transfer(destination: string): Promise<void> {
    if (this.#ending) return;
    if (!this.#channel) {
      this.#log.warn({ destination }, 'transfer requested but ARI is not configured');
      return;
    }
    const ok = await this.#channel.requestTransfer(destination);
    if (ok) await this.end('transfer', this.#deps.phrases.transfer);
  }

  // ---- the end ----

  #finishSummary(): void {
    const summary = summarizeCall(this.#call, this.#outcome ?? 'caller_hangup', this.#turns, this.#dialogue.toolUses());
    this.#log.info({ outcome: summary.outcome, durationMs: summary.durationMs, ...summarizeTurns(summary.turns) }, 'conversation ended');
    this.#deps.observer.callEnded(summary.outcome);
    this.#deps.onCallEnd?.(summary);
  }

  #now(): number {
    return this.#timers.clock.now();
  }
}
