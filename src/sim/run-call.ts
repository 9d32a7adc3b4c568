/** A whole scripted call: utterances and DTMF at given times, hang-up, and a per-turn report. */
import { setTimeout as sleep } from 'node:timers/promises';
import { FRAME_MS } from '../audio/pcm.js';
import { resample } from '../audio/resample.js';
import { writeWav } from '../audio/wav.js';
import { SimulatedCall, type CallEnd, type SimulatedCallOptions } from './simulated-call.js';
import { jitterStats, type JitterStats } from './stats.js';

/** One caller utterance: s16le mono PCM at `sampleRate`, resampled to the call's rate if needed. */
export interface Turn {
  pcm: Buffer;
  sampleRate: number;
  /** Start this many ms after connect. */
  at?: number;
  /** Or: start this many ms after the bot's reply to the previous turn has ended. */
  afterReplyMs?: number;
}

/** DTMF digits to send at a time, one message per digit `intervalMs` apart. */
export interface DtmfPlan {
  at: number;
  digits: string;
  intervalMs?: number;
}

/** Everything `runCall` needs. */
export interface RunCallOptions extends SimulatedCallOptions {
  turns?: Turn[];
  dtmf?: DtmfPlan[];
  /** Hang up (close TCP) this many ms after connect; by default 1 s after the last reply ends. */
  hangupAfterMs?: number;
  /** Write everything received to this WAV file when the call ends. */
  recordPath?: string;
  /** Silence from the bot that ends a reply, for `afterReplyMs` and the default hang-up. */
  replyEndSilenceMs?: number;
  /** Longest wait for a reply before moving on anyway. */
  replyTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Timing of one caller turn and the bot's answer to it. */
export interface TurnReport {
  index: number;
  /** When the utterance's first frame was sent, ms since connect. */
  startMs: number;
  /** When the utterance's last voiced frame was sent. */
  speechEndMs: number;
  /** First voiced frame received after the end of speech that follows bot silence. */
  replyStartMs: number | undefined;
  /** replyStartMs − speechEndMs. */
  latencyMs: number | undefined;
  /** From the first to the end of the last voiced reply frame before the next turn ended. */
  replyMs: number | undefined;
  /** Set when this turn started while the bot was talking: how long the bot went on. */
  bargeIn: { botStoppedAfterMs: number | undefined } | undefined;
  /** The bot was talking when the caller stopped; the reply is then the next onset after a pause. */
  talkingAtSpeechEnd: boolean;
}

/** What one simulated call measured. */
export interface CallReport {
  uuid: string;
  sampleRate: number;
  durationMs: number;
  endedBy: CallEnd['by'];
  error: string | undefined;
  framesSent: number;
  framesReceived: number;
  /** Received frames by payload size, e.g. { "320": 250 }. */
  frameSizes: Record<string, number>;
  dtmfSent: number;
  turns: TurnReport[];
  jitter: JitterStats;
}

/** Places one call, plays its script, hangs up and reports latency and jitter. */
export async function runCall(options: RunCallOptions): Promise<CallReport> {
  const call = await SimulatedCall.connect(options);
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal]);
  const onAbort = (): void => void call.hangUp();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  void call.closed.then(() => stop.abort());
  let dtmfSent = 0;

  const dtmf = (options.dtmf ?? []).map(async (plan) => {
    await untilMs(call, plan.at, signal);
    for (const [i, digit] of [...plan.digits].entries()) {
      if (i > 0) await sleep(plan.intervalMs ?? 350, undefined, { signal });
      call.sendDtmf(digit);
      dtmfSent++;
    }
  });

  const script = (async () => {
    for (const [i, turn] of (options.turns ?? []).entries()) {
      if (turn.at !== undefined) await untilMs(call, turn.at, signal);
      else if (i > 0 || turn.afterReplyMs !== undefined) {
        if (i > 0) await replyEnded(call, options, signal);
        await sleep(turn.afterReplyMs ?? 0, undefined, { signal });
      }
      const pcm = turn.sampleRate === call.sampleRate ? turn.pcm : resample(turn.pcm, turn.sampleRate, call.sampleRate);
      await call.play(pcm);
    }
    if (options.hangupAfterMs === undefined) {
      await replyEnded(call, options, signal);
      await sleep(1000, undefined, { signal });
      await call.hangUp();
    }
  })();

  // Attached now so an abort while the call is still running is never an unhandled rejection.
  const settled = Promise.allSettled([script, ...dtmf]);
  const hangupTimer =
    options.hangupAfterMs === undefined ? undefined : setTimeout(() => void call.hangUp(), Math.max(0, options.hangupAfterMs - call.nowMs()));
  const end = await call.closed;
  clearTimeout(hangupTimer);
  options.signal?.removeEventListener('abort', onAbort);
  await settled;

  if (options.recordPath !== undefined) {
    await writeWav(options.recordPath, call.recording(), call.receivedRate() ?? call.sampleRate);
  }
  return buildReport(call, end, dtmfSent);
}

async function untilMs(call: SimulatedCall, atMs: number, signal: AbortSignal): Promise<void> {
  const wait = atMs - call.nowMs();
  if (wait > 0) await sleep(wait, undefined, { signal });
}

/** Waits until the bot has spoken since the last sent voice and then been quiet for a while. */
async function replyEnded(call: SimulatedCall, options: RunCallOptions, signal: AbortSignal): Promise<void> {
  const quietMs = options.replyEndSilenceMs ?? 600;
  const deadline = call.nowMs() + (options.replyTimeoutMs ?? 15_000);
  const since = lastVoicedSentMs(call);
  while (call.nowMs() < deadline) {
    const lastVoiced = lastVoicedReceivedMs(call, since);
    if (lastVoiced !== undefined && call.nowMs() - lastVoiced >= quietMs) return;
    await sleep(FRAME_MS * 5, undefined, { signal });
  }
}

function lastVoicedSentMs(call: SimulatedCall): number {
  for (let i = call.sent.length - 1; i >= 0; i--) if (call.sent[i]!.voiced) return call.sent[i]!.atMs;
  return 0;
}

function lastVoicedReceivedMs(call: SimulatedCall, afterMs: number): number | undefined {
  for (let i = call.received.length - 1; i >= 0; i--) {
    const f = call.received[i]!;
    if (f.atMs <= afterMs) return undefined;
    if (f.voiced) return f.atMs;
  }
  return undefined;
}

function buildReport(call: SimulatedCall, end: CallEnd, dtmfSent: number): CallReport {
  const frameSizes: Record<string, number> = {};
  const arrivals = new Float64Array(call.received.length);
  call.received.forEach((f, i) => {
    frameSizes[f.bytes] = (frameSizes[f.bytes] ?? 0) + 1;
    arrivals[i] = f.atMs;
  });
  return {
    uuid: call.uuid,
    sampleRate: call.sampleRate,
    durationMs: Math.round(call.nowMs()),
    endedBy: end.by,
    error: end.by === 'error' ? end.error.message : undefined,
    framesSent: call.sent.length,
    framesReceived: call.received.length,
    frameSizes,
    dtmfSent,
    turns: turnReports(call),
    jitter: jitterStats(arrivals),
  };
}

/** Matches each played clip to the voiced frames the bot sent back after it. */
export function turnReports(call: Pick<SimulatedCall, 'sent' | 'received'>): TurnReport[] {
  const clips: { startMs: number; speechEndMs: number }[] = [];
  for (const mark of call.sent) {
    if (mark.clip < 0) continue;
    const clip = (clips[mark.clip] ??= { startMs: mark.atMs, speechEndMs: mark.atMs });
    if (mark.voiced) clip.speechEndMs = mark.atMs;
  }
  const voiced = call.received.filter((f) => f.voiced).map((f) => f.atMs);
  /** First voiced frame after `t` that starts speech: preceded by `REPLY_GAP_MS` of bot silence. */
  const onsetAfter = (t: number, before: number): number | undefined => {
    let previous = voiced.findLast((at) => at <= t);
    for (const at of voiced) {
      if (at <= t) continue;
      if (at >= before) return undefined;
      if (previous === undefined || at - previous > REPLY_GAP_MS) return at;
      previous = at;
    }
    return undefined;
  };
  const lastBefore = (t: number, after: number): number | undefined => voiced.findLast((at) => at < t && at > after);
  const reports: TurnReport[] = [];
  clips.forEach((clip, index) => {
    if (clip === undefined) return;
    const next = clips[index + 1];
    const windowEnd = next?.speechEndMs ?? Infinity;
    const talkingAtSpeechEnd = lastBefore(clip.speechEndMs + 1, clip.speechEndMs - REPLY_GAP_MS) !== undefined;
    const replyStartMs = onsetAfter(clip.speechEndMs, windowEnd);
    const lastReply = replyStartMs === undefined ? undefined : lastBefore(windowEnd, replyStartMs - 1);
    const prevTalking = lastBefore(clip.startMs + 1, clip.startMs - 3 * FRAME_MS) !== undefined;
    let bargeIn: TurnReport['bargeIn'];
    if (index > 0 && prevTalking) {
      const lastDuring = lastBefore(clip.speechEndMs + 1, clip.startMs);
      bargeIn = { botStoppedAfterMs: lastDuring === undefined ? 0 : round(lastDuring + FRAME_MS - clip.startMs) };
    }
    reports.push({
      index,
      startMs: round(clip.startMs),
      speechEndMs: round(clip.speechEndMs),
      replyStartMs: replyStartMs === undefined ? undefined : round(replyStartMs),
      latencyMs: replyStartMs === undefined ? undefined : round(replyStartMs - clip.speechEndMs),
      replyMs: replyStartMs === undefined || lastReply === undefined ? undefined : round(lastReply + FRAME_MS - replyStartMs),
      bargeIn,
      talkingAtSpeechEnd,
    });
  });
  return reports;
}

/** Bot silence that separates one reply from speech that was already going on. */
const REPLY_GAP_MS = 100;

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
