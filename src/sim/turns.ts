/** Caller turns matched to the bot's replies: latency, barge-in, and the pitch and length heard. */
import { FRAME_MS } from '../audio/pcm.js';
import type { ReceivedFrame, SimulatedCall } from './simulated-call.js';
import { toneByRate, toneOf } from './tone.js';

/** Pitch (Hz) and sound (ms) of a stretch of bot audio; undefined where frames were not analysed. */
export interface HeardTone {
  toneHz: number | undefined;
  soundMs: number | undefined;
  /** The same for the frames of each true rate, when sound came at more than one. */
  byRate?: { sampleRate: number; toneHz: number | undefined; soundMs: number }[];
}

/**
 * Timing of one caller turn and the bot's answer to it, with the reply's pitch and sound as the
 * caller heard it (frames from its first to its last voiced one; `soundMs` < `replyMs` when played fast).
 */
export interface TurnReport extends HeardTone {
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
      ...(replyStartMs === undefined || lastReply === undefined ? NO_TONE : toneBetween(call.received, replyStartMs, lastReply)),
    });
  });
  return reports;
}

/** Bot silence that separates one reply from speech that was already going on. */
const REPLY_GAP_MS = 100;

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

const NO_TONE: HeardTone = { toneHz: undefined, soundMs: undefined };

/** Pitch and sound of the frames received from `fromMs` to `toMs`, both included. */
function toneBetween(received: readonly ReceivedFrame[], fromMs: number, toMs: number): HeardTone {
  const sounds = [];
  for (const f of received) {
    if (f.atMs < fromMs || f.atMs > toMs) continue;
    if (f.sound === undefined) return NO_TONE;
    sounds.push(f.sound);
  }
  const { toneHz, soundMs } = toneOf(sounds);
  const byRate = [...toneByRate(sounds)].flatMap(([sampleRate, t]) => (t.soundMs > 0 ? [{ sampleRate, toneHz: t.toneHz, soundMs: t.soundMs }] : []));
  return { toneHz, soundMs, ...(byRate.length > 1 ? { byRate } : {}) };
}

/** Pitch and sound of what the bot said before its first reply to the caller (all of it when it never replied). */
export function greetingTone(call: Pick<SimulatedCall, 'received'>, turns: readonly TurnReport[]): HeardTone {
  const firstReply = Math.min(...turns.map((t) => t.replyStartMs ?? Infinity));
  // Half a frame back: the reply's own first frame is out even though replyStartMs is rounded.
  return toneBetween(call.received, -Infinity, firstReply - FRAME_MS / 2);
}
