/** A whole scripted call: utterances and DTMF at given times, hang-up, and a per-turn report. */
import { setTimeout as sleep } from 'node:timers/promises';
import { FRAME_MS } from '../audio/pcm.js';
import { resample } from '../audio/resample.js';
import { writeWav } from '../audio/wav.js';
import { SimulatedCall, type CallEnd, type SimulatedCallOptions } from './simulated-call.js';
import { jitterStats, type JitterStats } from './stats.js';
import { greetingTone, turnReports, type HeardTone, type TurnReport } from './turns.js';

export { turnReports, type HeardTone, type TurnReport } from './turns.js';

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
  /** Received frames by kind, e.g. { "0x10": 75, "0x12": 500 }: a change of kind mid-call shows here. */
  frameKinds: Record<string, number>;
  /** What the bot said before its first reply: its pitch and length as the caller heard it. */
  greeting: HeardTone;
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
    const heard = call.heard();
    await writeWav(options.recordPath, heard.pcm, heard.sampleRate);
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
  const frameKinds: Record<string, number> = {};
  const arrivals = new Float64Array(call.received.length);
  call.received.forEach((f, i) => {
    frameSizes[f.bytes] = (frameSizes[f.bytes] ?? 0) + 1;
    const kind = `0x${f.kind.toString(16).padStart(2, '0')}`;
    frameKinds[kind] = (frameKinds[kind] ?? 0) + 1;
    arrivals[i] = f.atMs;
  });
  const turns = turnReports(call);
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
    frameKinds,
    greeting: greetingTone(call, turns),
    turns,
    jitter: jitterStats(arrivals),
  };
}
