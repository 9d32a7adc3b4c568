/** One scripted 16 kHz caller for the latency benchmark: plays clips turn by turn and keeps what it heard, timed. */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { FRAME_MS } from '../../src/audio/pcm.js';
import { turnReports } from '../../src/sim/run-call.js';
import { SimulatedCall } from '../../src/sim/simulated-call.js';

/** What one caller does. */
export interface CallerScript {
  port: number;
  uuid: string;
  /** s16le 16 kHz clips, one per turn. */
  clips: readonly Buffer[];
  /** Pause after the bot's reply (or greeting) ended before the next clip, ms. */
  afterReplyMs: number;
  /** Bot silence that ends a reply, ms. */
  replyEndSilenceMs: number;
  /** Start every clip after the first this many ms after the reply to the previous one began (a barge-in). */
  bargeInAfterReplyStartMs?: number;
  /** Longest wait for any reply, ms. */
  replyTimeoutMs?: number;
}

/** What one caller measured; frame times are ms since its connect. */
export interface CallerResult {
  uuid: string;
  /** Epoch ms of the caller's connect (performance.timeOrigin based), to line up with server log times. */
  t0EpochMs: number;
  /** Speech end → first voiced reply frame, per clip. */
  latenciesMs: (number | undefined)[];
  clips: { startMs: number; speechEndMs: number }[];
  /** Arrival times of every voiced frame received. */
  voicedMs: number[];
  /** The caller's first frame sent → the greeting's first voiced frame received, ms. */
  greetingMs: number | undefined;
  error: string | undefined;
}

/** Places the call, plays its clips (after the greeting), hangs up after the last reply and reports. */
export async function runCaller(script: CallerScript): Promise<CallerResult> {
  let call: SimulatedCall;
  try {
    call = await SimulatedCall.connect({ port: script.port, uuid: script.uuid, sampleRate: 16000, keepPayload: false, analyze: true });
  } catch (err) {
    return { uuid: script.uuid, t0EpochMs: NaN, latenciesMs: [], clips: [], voicedMs: [], greetingMs: undefined, error: (err as Error).message };
  }
  const t0EpochMs = performance.timeOrigin + performance.now() - call.nowMs();
  const timeoutMs = script.replyTimeoutMs ?? 15_000;
  let error: string | undefined;
  try {
    await replyEnded(call, 0, script.replyEndSilenceMs, timeoutMs);
    for (const [i, clip] of script.clips.entries()) {
      if (i > 0 && script.bargeInAfterReplyStartMs !== undefined) {
        const start = await replyStarted(call, lastVoicedSentMs(call), timeoutMs);
        const wait = start + script.bargeInAfterReplyStartMs - call.nowMs();
        if (wait > 0) await sleep(wait);
      } else {
        if (i > 0) await replyEnded(call, lastVoicedSentMs(call), script.replyEndSilenceMs, timeoutMs);
        await sleep(script.afterReplyMs);
      }
      if (!call.active) break;
      await call.play(clip);
    }
    await replyEnded(call, lastVoicedSentMs(call), script.replyEndSilenceMs, timeoutMs);
  } catch (err) {
    error = (err as Error).message;
  }
  if (!call.active) error ??= 'the server ended the call';
  await call.hangUp();
  const turns = turnReports(call);
  const firstSent = call.sent[0]?.atMs;
  const greeting = call.received.find((f) => f.voiced)?.atMs;
  return {
    greetingMs: firstSent !== undefined && greeting !== undefined ? greeting - firstSent : undefined,
    uuid: script.uuid,
    t0EpochMs,
    latenciesMs: turns.map((t) => t.latencyMs),
    clips: turns.map((t) => ({ startMs: t.startMs, speechEndMs: t.speechEndMs })),
    voicedMs: call.received.filter((f) => f.voiced).map((f) => f.atMs),
    error,
  };
}

function lastVoicedSentMs(call: SimulatedCall): number {
  for (let i = call.sent.length - 1; i >= 0; i--) if (call.sent[i]!.voiced) return call.sent[i]!.atMs;
  return 0;
}

function firstVoicedAfter(call: SimulatedCall, afterMs: number): number | undefined {
  let found: number | undefined;
  for (let i = call.received.length - 1; i >= 0; i--) {
    const f = call.received[i]!;
    if (f.atMs <= afterMs) break;
    if (f.voiced) found = f.atMs;
  }
  return found;
}

/** Resolves with the arrival of the first voiced frame after `sinceMs`. */
async function replyStarted(call: SimulatedCall, sinceMs: number, timeoutMs: number): Promise<number> {
  const deadline = call.nowMs() + timeoutMs;
  while (call.active && call.nowMs() < deadline) {
    const at = firstVoicedAfter(call, sinceMs);
    if (at !== undefined) return at;
    await sleep(FRAME_MS);
  }
  throw new Error('no reply started in time');
}

/** Resolves once the bot has spoken after `sinceMs` and then been quiet for `quietMs`. */
async function replyEnded(call: SimulatedCall, sinceMs: number, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = call.nowMs() + timeoutMs;
  while (call.active && call.nowMs() < deadline) {
    let last: number | undefined;
    for (let i = call.received.length - 1; i >= 0; i--) {
      const f = call.received[i]!;
      if (f.atMs <= sinceMs) break;
      if (f.voiced) {
        last = f.atMs;
        break;
      }
    }
    if (last !== undefined && call.nowMs() - last >= quietMs) return;
    await sleep(FRAME_MS * 5);
  }
  if (call.active) throw new Error('no complete reply in time');
}
