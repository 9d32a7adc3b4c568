/** Waits on what a simulated caller hears: the bot starting to talk, and a reply having ended. */
import { SimulatedCall, type SimulatedCallOptions } from '../../src/sim/simulated-call.js';
import { turnReports, type TurnReport } from '../../src/sim/turns.js';
import { WAIT_MS, waitFor } from './wait-for.js';

/** Arrival time (ms since connect) of the last voiced frame received after `afterMs`, if any. */
export function lastVoicedAfter(call: SimulatedCall, afterMs: number): number | undefined {
  for (let i = call.received.length - 1; i >= 0; i--) {
    const f = call.received[i]!;
    if (f.atMs <= afterMs) return undefined;
    if (f.voiced) return f.atMs;
  }
  return undefined;
}

/** Send time of the caller's last voiced frame (0 before any). */
export function lastVoicedSent(call: SimulatedCall): number {
  for (let i = call.sent.length - 1; i >= 0; i--) if (call.sent[i]!.voiced) return call.sent[i]!.atMs;
  return 0;
}

/** The longest pause between two frames the caller sent, ms: how long this test process stalled. */
export function longestSendGap(call: SimulatedCall): number {
  let longest = 0;
  for (let i = 1; i < call.sent.length; i++) longest = Math.max(longest, call.sent[i]!.atMs - call.sent[i - 1]!.atMs);
  return Math.round(longest);
}

/** Resolves with the arrival time of the first voiced frame received after `afterMs`. */
export function botTalking(call: SimulatedCall, afterMs = 0, timeoutMs = WAIT_MS): Promise<number> {
  return waitFor(() => call.received.find((f) => f.voiced && f.atMs > afterMs)?.atMs, 'the bot to talk', timeoutMs);
}

/**
 * Resolves once the bot has talked after `afterMs` (by default after the caller's last voiced
 * frame) and then sent `quietMs` of silence, with the arrival time of the reply's last voiced frame.
 * The silence is counted in frames received, not in time: a stalled test process that reads a
 * batch of frames late does not take the stall for the end of the reply.
 */
export function replyEnded(call: SimulatedCall, options: { afterMs?: number; quietMs?: number; timeoutMs?: number } = {}): Promise<number> {
  const after = options.afterMs ?? lastVoicedSent(call);
  const quietFrames = Math.ceil((options.quietMs ?? 500) / 20);
  return waitFor(
    () => {
      const received = call.received;
      let silent = 0;
      for (let i = received.length - 1; i >= 0 && received[i]!.atMs > after; i--) {
        if (received[i]!.voiced) return silent >= quietFrames ? received[i]!.atMs : undefined;
        silent++;
      }
      return undefined;
    },
    'the reply to end',
    options.timeoutMs ?? WAIT_MS * 2,
  );
}

/**
 * Places a call, waits for the greeting to end, then says each utterance once the bot's answer to
 * the previous one has been heard to the end; hangs up after the last answer.
 */
export async function converse(
  options: SimulatedCallOptions,
  utterances: readonly Buffer[],
  { quietMs = 400 }: { quietMs?: number } = {},
): Promise<{ call: SimulatedCall; turns: TurnReport[] }> {
  // A loaded test process can take seconds to see its connection established.
  const call = await SimulatedCall.connect({ connectTimeoutMs: 30_000, ...options });
  await replyEnded(call, { afterMs: 0, quietMs: 300 });
  for (const pcm of utterances) {
    await call.play(pcm);
    await replyEnded(call, { quietMs });
  }
  await call.hangUp();
  return { call, turns: turnReports(call) };
}
