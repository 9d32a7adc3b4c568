import { performance } from 'node:perf_hooks';
import type { Asr, AsrEvent } from '../asr/asr.js';
import type { AudioSocketCall } from '../audiosocket/call.js';
import { pcmDurationMs } from '../audio/pcm.js';
import { createResampler, type Resampler } from '../audio/resample.js';
import { rms } from '../audio/vad.js';
import { isAbortError, VoicebotError } from '../errors.js';
import type { CallControl } from '../llm/llm.js';
import type { Logger } from '../logger.js';
import type { Observer } from '../metrics/observer.js';
import { AsyncQueue } from './async-queue.js';
import type { ConversationConfig } from './conversation-config.js';
import { heardText } from './heard.js';
import { summarizeTurns, TURN_STAGES, TurnTrace, type TurnLatency } from './latency-trace.js';
import { Turn, type ReplyAudio, type TurnOutcome, type TurnPipeline, type UnplayedAudio } from './turn.js';

/** The model side of one call: replies to an utterance, and records what was actually heard. */
export interface Dialogue {
  /** Streams the reply to `userText` as text deltas; nothing is recorded yet. */
  reply(userText: string, signal: AbortSignal): AsyncIterable<string>;
  /** Records one exchange: the caller's words (if any) and the part of the reply they heard. */
  record(userText: string | undefined, heard: string): void;
}

/** The channel-control operations of one call (ARI); absent when ARI is not configured. */
export interface ChannelControl {
  resolveChannel?(): Promise<string | undefined>;
  hangup(): Promise<boolean>;
  requestTransfer(destination: string): Promise<boolean>;
  /** No request is made for this channel after this. */
  detach(): void;
}

/** Fixed phrases of a call, in the bot's language. */
export interface Phrases {
  greeting: string;
  inactivity: string;
  goodbye: string;
  cannotHear: string;
  transfer: string;
}

/** What a conversation needs: providers composed into stages, and its settings. */
export interface ConversationDeps {
  asr: Asr;
  createDialogue(control: CallControl, log: Logger): Dialogue;
  /** Speakable chunks from text deltas. */
  chunks(deltas: AsyncIterable<string>): AsyncIterable<string>;
  /** Audio for chunks, strictly in order. */
  /** `sampleRate` is read as each chunk's synthesis starts: the wire rate may change mid-reply. */
  synthesize(chunks: AsyncIterable<string>, sampleRate: () => number, signal: AbortSignal, log: Logger): AsyncIterable<ReplyAudio>;
  /** A fixed phrase's audio (cached), streamed as it is synthesized on a cache miss. */
  phrase(text: string, sampleRate: number, signal: AbortSignal): AsyncIterable<Buffer>;
  /** The greeting from an audio file, when one is configured. */
  greetingAudio?(sampleRate: number): Promise<Buffer>;
  channelControl?(callId: string, log: Logger): ChannelControl;
  phrases: Phrases;
  config: ConversationConfig;
  vadThreshold: number;
  observer: Observer;
  /** Called once per call with its summary. */
  onCallEnd?(summary: CallSummary): void;
  /** Told when the recognizer works for a call, or fails it for good. */
  recognizerHealth?: { ok(): void; failed(code: string): void };
}

/** How a call ended, from the conversation's point of view. */
export type CallOutcome =
  | 'caller_hangup'
  | 'bot_hangup'
  | 'transfer'
  | 'inactivity'
  | 'max_duration'
  | 'asr_failed'
  | 'drain'
  | 'error';

/** One exchange of the transcript. */
export interface TranscriptEntry {
  role: 'caller' | 'bot';
  text: string;
}

/** A finished call: for the call record and metrics. */
export interface CallSummary {
  callId: string;
  startedAt: number;
  durationMs: number;
  outcome: CallOutcome;
  turns: TurnLatency[];
  transcript: TranscriptEntry[];
}

/** A caller's voice frame counts toward barge-in while gaps in it stay under this, ms. */
const VOICE_GAP_MS = 300;
/** Inbound frames kept for a recognizer that is not reading (10 s): older ones are dropped. */
const ASR_QUEUE_FRAMES = 500;
/** Every recognizer takes 8 and 16 kHz; audio at any other wire rate is resampled to 16 kHz for it. */
const RECOGNITION_RATES = [8000, 16000];
/** Synthesizers produce 8–48 kHz; audio for a faster wire is resampled by the playout. */
const MAX_SYNTHESIS_RATE = 48_000;
/** A final with no end-of-utterance after it is taken as the whole utterance after this, ms. */
const FINAL_WITHOUT_EOU_MS = 1200;

interface TurnInfo {
  turn: Turn;
  userText: string | undefined;
  settled: boolean;
}

/** Runs one call as a conversation until it ends; resolves when everything is released. */
export async function runConversation(
  call: AudioSocketCall,
  deps: ConversationDeps,
  onSession?: (session: { goodbye(): Promise<void> }) => void,
): Promise<void> {
  // Synchronously up to the listeners: audio can arrive in the same TCP chunk as the UUID.
  const session = new CallSession(call, deps);
  onSession?.({ goodbye: () => session.goodbye('drain') });
  await session.run();
}

class CallSession {
  readonly #call: AudioSocketCall;
  readonly #deps: ConversationDeps;
  readonly #config: ConversationConfig;
  readonly #log: Logger;
  readonly #audio = new AsyncQueue<Buffer>(ASR_QUEUE_FRAMES);
  readonly #dialogue: Dialogue;
  readonly #channel: ChannelControl | undefined;
  readonly #turns: TurnLatency[] = [];
  readonly #transcript: TranscriptEntry[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #turnCount = 0;
  #current: TurnInfo | undefined;
  #speculative: TurnInfo | undefined;
  #interrupted: { info: TurnInfo; at: number; unplayed: UnplayedAudio[] } | undefined;
  // Caller voice, timed on inbound frames.
  #voicedMs = 0;
  #lastVoicedAt: number | undefined;
  #lastUnvoicedRunMs = 0;
  // Recognizer state for the utterance in progress.
  #partial = '';
  #finals: string[] = [];
  #specTimer: NodeJS.Timeout | undefined;
  #finalTimer: NodeJS.Timeout | undefined;
  #inactivityTimer: NodeJS.Timeout | undefined;
  #activityAt = 0;
  #inactivityPrompts = 0;
  #dtmf = '';
  #dtmfTimer: NodeJS.Timeout | undefined;
  #endAfterReply: CallOutcome | undefined;
  #ending = false;
  #asrWorks = false;
  #outcome: CallOutcome | undefined;
  /** The rate the recognizer was opened at: the first inbound frame's. */
  #asrRate: number | undefined;
  /** Converts inbound audio to `#asrRate` after the wire format changed. */
  #toAsrRate: Resampler | undefined;
  #recognition: Promise<void> | undefined;

  constructor(call: AudioSocketCall, deps: ConversationDeps) {
    this.#call = call;
    this.#deps = deps;
    this.#config = deps.config;
    this.#log = call.log;
    this.#channel = deps.channelControl?.(call.id, call.log);
    // Read the dialplan's call-to-channel link at once, while the channel surely exists.
    void this.#channel?.resolveChannel?.();
    this.#dialogue = deps.createDialogue(this.#callControl(), call.log);
  }

  async run(): Promise<void> {
    const call = this.#call;
    const onAudio = (pcm: Buffer) => this.#onAudio(pcm);
    const onDtmf = (digit: string) => this.#onDtmf(digit);
    call.on('audio', onAudio);
    call.on('dtmf', onDtmf);
    this.#timer(() => void this.#finish('max_duration', this.#deps.phrases.goodbye), this.#config.maxCallMs);
    const ended = new Promise<void>((resolve) => call.signal.addEventListener('abort', () => resolve(), { once: true }));

    void this.#greet();
    await ended;

    call.off('audio', onAudio);
    call.off('dtmf', onDtmf);
    this.#audio.end();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#channel?.detach();
    this.#speculative?.turn.abort('discarded');
    this.#current?.turn.abort('interrupted');
    await this.#recognition;
    await Promise.allSettled([this.#current?.turn.done, this.#speculative?.turn.done]);
    if (this.#interrupted) this.#settle(this.#interrupted.info);
    if (this.#current) this.#settle(this.#current);
    this.#outcome ??= 'caller_hangup';
    const summary: CallSummary = {
      callId: call.id,
      startedAt: call.startedAt,
      durationMs: Date.now() - call.startedAt,
      outcome: this.#outcome,
      turns: this.#turns,
      transcript: this.#transcript,
    };
    this.#log.info({ outcome: summary.outcome, durationMs: summary.durationMs, ...summarizeTurns(this.#turns) }, 'conversation ended');
    this.#deps.observer.callEnded(summary.outcome);
    this.#deps.onCallEnd?.(summary);
  }

  /** Ends the call politely: optional phrase, then hang-up. The drain uses it too. */
  async goodbye(outcome: CallOutcome): Promise<void> {
    await this.#finish(outcome, this.#deps.phrases.goodbye);
  }

  // ---- caller audio and recognition ----

  #onAudio(wire: Buffer): void {
    const pcm = this.#atAsrRate(wire);
    if (pcm.length === 0) return;
    this.#audio.push(pcm);
    const now = performance.now();
    const ms = pcmDurationMs(pcm.length, this.#asrRate!);
    if (rms(pcm) >= this.#deps.vadThreshold) {
      this.#voicedMs += ms;
      this.#lastUnvoicedRunMs = 0;
      this.#lastVoicedAt = now;
      this.#resetInactivity();
      this.#maybeBargeIn('voice');
    } else {
      this.#lastUnvoicedRunMs += ms;
      if (this.#lastUnvoicedRunMs >= VOICE_GAP_MS) this.#voicedMs = 0;
    }
  }

  /**
   * Caller audio at the recognizer's rate. The recognizer opens on the first frame, at its rate
   * (8 or 16 kHz; 16 kHz for any other); after a format change the audio is resampled, never
   * sent at a rate the recognizer was not told.
   */
  #atAsrRate(pcm: Buffer): Buffer {
    const rate = this.#call.currentFormat?.sampleRate ?? this.#call.playout.format.sampleRate;
    if (this.#asrRate === undefined) {
      this.#asrRate = RECOGNITION_RATES.includes(rate) ? rate : 16000;
      this.#recognition = this.#recognize(this.#asrRate);
    }
    if (rate === this.#asrRate) return pcm;
    if (this.#toAsrRate?.fromRate !== rate) this.#toAsrRate = createResampler(rate, this.#asrRate);
    return this.#toAsrRate.process(pcm);
  }

  async #recognize(sampleRate: number): Promise<void> {
    try {
      for await (const event of this.#deps.asr.transcribe(this.#audio, {
        sampleRate,
        signal: this.#call.signal,
        log: this.#log,
      })) {
        if (this.#call.signal.aborted) return;
        if (!this.#asrWorks) {
          this.#asrWorks = true;
          this.#deps.recognizerHealth?.ok();
        }
        this.#onAsr(event);
      }
    } catch (err) {
      if (this.#call.signal.aborted || isAbortError(err)) return;
      const code = err instanceof VoicebotError ? err.code : 'asr_failed';
      this.#log.error({ code, err: (err as Error)?.message ?? String(err) }, 'speech recognition failed; ending the call');
      this.#deps.observer.providerError('asr', code);
      this.#deps.recognizerHealth?.failed(code);
      await this.#finish('asr_failed', this.#deps.phrases.cannotHear);
    }
  }

  #onAsr(event: AsrEvent): void {
    switch (event.type) {
      case 'partial':
        if (event.text === this.#partial) return;
        this.#partial = event.text;
        this.#resetInactivity();
        this.#maybeBargeIn('partial');
        this.#scheduleSpeculation();
        return;
      case 'final':
        this.#log.debug({ text: event.text }, 'recognized');
        this.#finals.push(event.text);
        this.#partial = '';
        clearTimeout(this.#finalTimer);
        this.#finalTimer = this.#timer(() => this.#endOfUtterance(), FINAL_WITHOUT_EOU_MS);
        return;
      case 'eou':
        this.#endOfUtterance();
        return;
    }
  }

  #endOfUtterance(): void {
    clearTimeout(this.#finalTimer);
    clearTimeout(this.#specTimer);
    const text = this.#finals.join(' ').trim();
    this.#finals = [];
    this.#partial = '';
    if (letters(text) < Math.max(1, this.#config.bargeInMinChars)) {
      this.#falseAlarm();
      return;
    }
    this.#onUtterance(text, this.#lastVoicedAt ?? performance.now());
  }

  // ---- turns ----

  #onUtterance(text: string, speechEndAt: number): void {
    if (this.#ending) return;
    const now = performance.now();
    this.#inactivityPrompts = 0;
    if (this.#interrupted) {
      this.#settle(this.#interrupted.info);
      this.#interrupted = undefined;
    }
    // The caller spoke a whole utterance over the bot without a barge-in decision (barge-in off,
    // or too short to confirm): the old reply yields to the new one.
    if (this.#current && !this.#current.settled) this.#interrupt(this.#current);

    const spec = this.#speculative;
    this.#speculative = undefined;
    let info: TurnInfo;
    if (spec && normalize(spec.userText ?? '') === normalize(text)) {
      info = spec;
      info.turn.commit();
      this.#log.debug({ turn: info.turn.id }, 'speculative reply committed');
    } else {
      if (spec) {
        spec.turn.abort('discarded');
        this.#log.debug({ turn: spec.turn.id }, 'speculative reply discarded');
      }
      info = this.#startTurn(text, false);
    }
    info.turn.trace.setSpeechEnd(speechEndAt);
    info.turn.trace.mark('asr_final', now);
    this.#current = info;
  }

  #newTurn(pipeline: TurnPipeline, speculative = false): Turn {
    const id = ++this.#turnCount;
    return new Turn({
      id,
      trace: new TurnTrace(id),
      playout: this.#call.playout,
      callSignal: this.#call.signal,
      log: this.#log,
      speculative,
      pipeline,
    });
  }

  #startTurn(userText: string, speculative: boolean): TurnInfo {
    const turn = this.#newTurn(
      {
        deltas: (signal) => this.#dialogue.reply(userText, signal),
        chunks: (deltas) => this.#deps.chunks(deltas),
        audio: (chunks, signal) => this.#deps.synthesize(chunks, () => this.#synthesisRate(), signal, this.#log),
      },
      speculative,
    );
    const info: TurnInfo = { turn, userText, settled: false };
    void turn.done.then((outcome) => this.#turnDone(info, outcome));
    return info;
  }

  /** Plays a fixed phrase as a turn of its own, so barge-in and heard-text work the same way. */
  #playPhrase(text: string, audio?: (sampleRate: number) => Promise<Buffer>): TurnInfo {
    // The wire rate when the phrase starts; a later switch resamples it in the playout.
    const sampleRate = this.#synthesisRate();
    const phrase = this.#deps.phrase;
    const turn = this.#newTurn({
      deltas: () => once(text),
      chunks: (deltas) => deltas,
      audio: async function* (chunks, signal) {
        for await (const chunk of chunks) {
          if (audio) yield { index: 0, text: chunk, pcm: await audio(sampleRate), sampleRate, last: true };
          else for await (const pcm of phrase(chunk, sampleRate, signal)) yield { index: 0, text: chunk, pcm, sampleRate, last: false };
        }
      },
    });
    const info: TurnInfo = { turn, userText: undefined, settled: false };
    if (this.#current && !this.#current.settled) this.#interrupt(this.#current);
    this.#current = info;
    void turn.done.then((outcome) => this.#turnDone(info, outcome, true));
    return info;
  }

  #turnDone(info: TurnInfo, outcome: TurnOutcome, phrase = false): void {
    if (outcome === 'discarded') return;
    if (!phrase) {
      const latency = info.turn.trace.result();
      this.#turns.push(latency);
      for (const stage of TURN_STAGES) {
        const ms = latency.stages[stage];
        if (ms !== undefined) this.#deps.observer.turnStage(stage, ms);
      }
      if (latency.voiceToVoiceMs !== undefined) this.#deps.observer.turnStage('voice_to_voice', latency.voiceToVoiceMs);
      this.#log.info({ turn: latency.turn, outcome, ...latency.stages, speculative: latency.speculative }, 'turn latency');
    }
    if (outcome === 'interrupted') return;
    this.#settle(info);
    if (this.#current === info) this.#current = undefined;
    if (this.#endAfterReply && !this.#ending) {
      void this.#finish(this.#endAfterReply);
      return;
    }
    this.#resetInactivity();
  }

  /** Records an exchange once: the caller's words and what they heard of the reply. */
  #settle(info: TurnInfo): void {
    if (info.settled) return;
    info.settled = true;
    const heard = heardText(info.turn.pieces());
    this.#dialogue.record(info.userText, heard);
    if (info.userText !== undefined) this.#transcript.push({ role: 'caller', text: info.userText });
    if (heard !== '') this.#transcript.push({ role: 'bot', text: heard });
  }

  /** Stops a reply the caller talked over; the exchange is recorded with what was heard. */
  #interrupt(info: TurnInfo): void {
    this.#call.playout.clear();
    info.turn.abort('interrupted');
    this.#settle(info);
    if (this.#current === info) this.#current = undefined;
  }

  // ---- barge-in ----

  #maybeBargeIn(trigger: 'voice' | 'partial'): void {
    const info = this.#current;
    if (!this.#config.bargeIn || info === undefined || info.settled || !info.turn.committed) return;
    if (this.#call.playout.queuedMs <= 0) return;
    if (this.#voicedMs < this.#config.bargeInMinSpeechMs) return;
    if (letters(this.#partial) < this.#config.bargeInMinChars) return;
    // Decision made: the very next frame is silence, then the requests are cancelled.
    this.#call.playout.clear();
    info.turn.abort('interrupted');
    this.#current = undefined;
    this.#interrupted = { info, at: performance.now(), unplayed: info.turn.unplayed() };
    this.#deps.observer.bargeIn();
    const atMs = Math.round(Date.now() - this.#call.startedAt);
    this.#log.info({ turn: info.turn.id, trigger, voicedMs: Math.round(this.#voicedMs), atMs }, 'barge-in');
  }

  /** The speech that cut the bot off turned out empty: resume the reply where it was cut. */
  #falseAlarm(): void {
    const cut = this.#interrupted;
    if (!cut) return;
    this.#interrupted = undefined;
    if (performance.now() - cut.at > this.#config.falseAlarmMs || cut.unplayed.length === 0 || this.#ending) {
      this.#settle(cut.info);
      return;
    }
    this.#log.info({ turn: cut.info.turn.id }, 'barge-in was a false alarm; resuming');
    const playout = this.#call.playout;
    playout.beginStream();
    for (const { tag, pcm, sampleRate } of cut.unplayed) playout.enqueue(pcm, tag, sampleRate);
    playout.endStream();
    this.#current = cut.info;
    void playout.whenIdle().then(() => {
      if (this.#current === cut.info) this.#current = undefined;
      this.#settle(cut.info);
      this.#resetInactivity();
    });
  }

  // ---- speculative replies ----

  #scheduleSpeculation(): void {
    if (!this.#config.speculative || this.#ending) return;
    clearTimeout(this.#specTimer);
    const text = this.#partial;
    if (this.#speculative && normalize(this.#speculative.userText ?? '') !== normalize(text)) {
      this.#speculative.turn.abort('discarded');
      this.#speculative = undefined;
    }
    if (letters(text) < 2) return;
    // Speculate only once the words stopped changing and the caller paused: mid-sentence
    // partials would start a model request every few hundred milliseconds.
    const stable = this.#config.speculativeStableMs;
    const check = () => {
      if (this.#partial !== text || this.#speculative || this.#ending) return;
      const quietFor = performance.now() - (this.#lastVoicedAt ?? 0);
      if (quietFor < stable) {
        this.#specTimer = this.#timer(check, stable - quietFor);
        return;
      }
      const prefix = this.#finals.join(' ');
      this.#speculative = this.#startTurn(`${prefix} ${text}`.trim(), true);
      this.#log.debug({ turn: this.#speculative.turn.id }, 'speculative reply started');
    };
    this.#specTimer = this.#timer(check, stable);
  }

  // ---- DTMF ----

  #onDtmf(digit: string): void {
    this.#resetInactivity();
    if (digit === this.#config.dtmfTransferDigit && this.#config.dtmfTransferDestination !== undefined) {
      void this.#transferNow(this.#config.dtmfTransferDestination);
      return;
    }
    this.#dtmf += digit;
    clearTimeout(this.#dtmfTimer);
    const flush = () => {
      const digits = this.#dtmf;
      this.#dtmf = '';
      if (digits !== '') this.#onUtterance(`[DTMF] ${digits}`, performance.now());
    };
    if (digit === '#') flush();
    else this.#dtmfTimer = this.#timer(flush, this.#config.dtmfCollectMs);
  }

  async #transferNow(destination: string): Promise<void> {
    if (this.#ending) return;
    if (!this.#channel) {
      this.#log.warn({ destination }, 'transfer requested but ARI is not configured');
      return;
    }
    const ok = await this.#channel.requestTransfer(destination);
    if (ok) await this.#finish('transfer', this.#deps.phrases.transfer);
  }

  // ---- the model's call control ----

  #callControl(): CallControl {
    return {
      hangUp: async (reason) => {
        this.#log.info({ reason }, 'model ended the call');
        this.#endAfterReply ??= 'bot_hangup';
      },
      transfer: async (destination) => {
        if (!this.#channel) return { ok: false, message: 'Transfer is not available on this line.' };
        const ok = await this.#channel.requestTransfer(destination);
        if (!ok) return { ok: false, message: 'The transfer could not be arranged; the call is no longer reachable.' };
        this.#endAfterReply = 'transfer';
        return { ok: true, message: `The caller will be transferred to ${destination} after your reply.` };
      },
    };
  }

  // ---- lifecycle ----

  async #greet(): Promise<void> {
    // The greeting is synthesized at the wire rate: the first frame's, or the fallback's.
    await this.#call.format;
    if (this.#call.signal.aborted || this.#ending) return;
    const info = this.#playPhrase(this.#deps.phrases.greeting, this.#deps.greetingAudio);
    await info.turn.done;
  }

  /** Marks caller or bot activity; cheap enough for every voiced frame (one timer, re-armed lazily). */
  #resetInactivity(): void {
    this.#activityAt = performance.now();
    if (this.#inactivityTimer !== undefined || this.#ending || this.#call.signal.aborted) return;
    this.#armInactivity(this.#config.inactivityMs);
  }

  #armInactivity(ms: number): void {
    this.#inactivityTimer = this.#timer(() => {
      this.#inactivityTimer = undefined;
      if (this.#ending) return;
      const quiet = performance.now() - this.#activityAt;
      if (quiet < this.#config.inactivityMs) {
        this.#armInactivity(this.#config.inactivityMs - quiet);
        return;
      }
      if (this.#current || this.#speculative || !this.#call.playout.idle || this.#finals.length > 0) {
        this.#resetInactivity();
        return;
      }
      this.#inactivityPrompts++;
      if (this.#inactivityPrompts > 1) {
        void this.#finish('inactivity', this.#deps.phrases.goodbye);
        return;
      }
      this.#log.info('caller silent; prompting');
      this.#playPhrase(this.#deps.phrases.inactivity);
    }, ms);
  }

  /** Ends the call: stops the reply, plays a last phrase if given, then hangs up. */
  async #finish(outcome: CallOutcome, phrase?: string): Promise<void> {
    if (this.#ending || this.#call.signal.aborted) return;
    this.#ending = true;
    this.#outcome = outcome;
    this.#speculative?.turn.abort('discarded');
    if (phrase !== undefined) {
      // The phrase is a courtesy: a peer that stops reading must not hold the call open.
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => (timer = this.#timer(resolve, this.#config.lastPhraseMaxMs)));
      await Promise.race([this.#playPhrase(phrase).turn.done.catch(() => undefined), limit]);
      clearTimeout(timer);
      if (!this.#call.signal.aborted && !this.#call.playout.idle) this.#log.warn({ outcome, limitMs: this.#config.lastPhraseMaxMs }, 'last phrase not played in time; hanging up');
    }
    if (this.#call.signal.aborted) return;
    this.#log.info({ outcome }, 'ending the call');
    // A transfer needs the dialplan to continue: only the AudioSocket leg is closed.
    if (outcome !== 'transfer' && this.#channel) await this.#channel.hangup().catch(() => false);
    this.#call.hangUp('hangup_sent');
  }

  /** The rate to synthesize at now: the wire rate, capped at what synthesizers produce. */
  #synthesisRate(): number {
    return Math.min(this.#call.playout.format.sampleRate, MAX_SYNTHESIS_RATE);
  }

  #timer(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#call.signal.aborted) fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }
}

async function* once(text: string): AsyncIterable<string> {
  yield text;
}

/** Letters and digits in `text`: what counts as words in a partial. */
function letters(text: string): number {
  return text.replace(/[^\p{L}\p{N}]/gu, '').length;
}

/** Case, punctuation and spacing do not make two recognitions different. */
function normalize(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}
