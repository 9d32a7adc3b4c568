/**
 * Offline phone line for the echo benchmark: the bot's 20 ms frames go out on a fixed clock, come
 * back through an echo path (delay, loss, optional dispersion), with line noise, μ-law and arrival
 * jitter, mixed with caller speech; an `EchoDetector` judges every inbound frame, and the
 * session's barge-in rule (voice for 200 ms, gaps under 300 ms) runs with and without the guard.
 */
import { EchoDetector, type EchoDetectorOptions } from '../../src/audio/echo-detector.js';
import { dbfs, silenceFrame, toFrames } from '../../src/audio/frames.js';
import { pcmToUlaw, ulawToPcm } from '../../src/audio/mulaw.js';
import { FRAME_MS } from '../../src/audio/pcm.js';
import { rms } from '../../src/audio/vad.js';
import { EchoPath, type EchoOptions } from '../../src/sim/echo-path.js';
import { seededRandom } from '../../test/support/seeded-random.js';

/** What the line does besides the echo's delay and loss. */
export interface LineImpairments {
  /** Extra echo-path taps after the main one, [ms, gain relative to it]; the whole path keeps the echo's level. */
  taps?: readonly (readonly [number, number])[];
  /** White noise on the caller's leg, dBFS (none when undefined). */
  noiseDbfs?: number;
  /** The caller's leg is μ-law. */
  ulaw?: boolean;
  /** Inbound frames arrive up to this much late, uniformly, ms. */
  jitterMs?: number;
  /** Every `everyMs` the reader stalls for `ms`: the frames due meanwhile are read together at its end. */
  stall?: { everyMs: number; ms: number };
}

/** One offline run. */
export interface LineRun {
  sampleRate: number;
  /** The bot's audio, s16le at `sampleRate`. */
  bot: Buffer;
  echo: EchoOptions | undefined;
  line: LineImpairments;
  /** Caller speech over the bot, starting `atMs` after the bot's first frame. */
  caller?: { pcm: Buffer; atMs: number };
  detector: EchoDetectorOptions;
  vadThreshold: number;
  bargeInMinSpeechMs: number;
  seed: number;
}

/** What one run measured. */
export interface LineResult {
  /** Inbound frames before the caller's onset (all of them without a caller). */
  framesBeforeOnset: number;
  /** Of those, frames above the VAD threshold: the ones barge-in counts. */
  voicedBeforeOnset: number;
  /** Of those voiced frames, the ones the detector called the caller's. */
  callerBeforeOnset: number;
  /**
   * Times (ms from the start) the bot fell silent because the barge-in rule fired, re-armed after
   * each: counting only voice the detector calls the caller's (`strict`); counting all voice from a
   * caller frame on, firing once `ARM_FRAMES` of it were the caller's (`armed`); today's rule, unguarded.
   */
  strictFirings: number[];
  armedFirings: number[];
  plainFirings: number[];
  /** Start of the caller's first voiced frame, ms. */
  onsetMs: number | undefined;
  /** Start of the first frame at or after the onset called the caller's, ms. */
  firstCallerMs: number | undefined;
  frames: number;
}

/** Barge-in needs voice for `minSpeechMs`; a gap of this much unvoiced audio starts the count again. */
const VOICE_GAP_MS = 300;
/** Caller frames among the counted voice that arm the `armed` rule. */
export const ARM_FRAMES = 3;

/** CPU time of the detector per inbound and outbound frame pair, µs: `pairs` frames of `bot` with its echo. */
export function detectorCost(bot: Buffer, rate: number, echo: EchoOptions, options: EchoDetectorOptions): number {
  const path = new EchoPath(echo, rate);
  const out = toFrames(bot, rate);
  const silent = silenceFrame(rate);
  const inbound = out.map((frame, k) => {
    path.played(frame, rate, k * FRAME_MS);
    return path.mix(silent, (k + 1) * FRAME_MS);
  });
  // A first pass warms the JIT up; the second is measured.
  let us = 0;
  for (let pass = 0; pass < 2; pass++) {
    const detector = new EchoDetector(options);
    const t0 = process.cpuUsage();
    for (let k = 0; k < out.length; k++) {
      detector.outbound(out[k]!, rate, k * FRAME_MS);
      detector.inbound(inbound[k]!, rate, (k + 1) * FRAME_MS);
    }
    const used = process.cpuUsage(t0);
    us = (used.user + used.system) / out.length;
  }
  return us;
}

/** Plays one run through the offline line. */
export function runLine(run: LineRun): LineResult {
  const rate = run.sampleRate;
  const random = seededRandom(run.seed);
  const detector = new EchoDetector(run.detector);
  const path = run.echo === undefined ? undefined : new EchoPath(run.echo, rate);
  const bot = toFrames(run.bot, rate);
  const echoSource = run.line.taps === undefined ? bot : toFrames(disperse(run.bot, rate, run.line.taps), rate);
  const caller = run.caller === undefined ? [] : toFrames(run.caller.pcm, rate);
  const callerFirst = Math.round((run.caller?.atMs ?? 0) / FRAME_MS);
  const voicedAt = caller.findIndex((f) => dbfs(f) > -45);
  const onsetFrame = run.caller === undefined || voicedAt < 0 ? undefined : callerFirst + voicedAt;
  const total = Math.max(bot.length, callerFirst + caller.length) + 30;
  const silent = silenceFrame(rate);
  const noise = run.line.noiseDbfs === undefined ? 0 : 32768 * 10 ** (run.line.noiseDbfs / 20);
  const result: LineResult = {
    framesBeforeOnset: 0, voicedBeforeOnset: 0, callerBeforeOnset: 0, strictFirings: [], armedFirings: [], plainFirings: [],
    onsetMs: onsetFrame === undefined ? undefined : onsetFrame * FRAME_MS, firstCallerMs: undefined, frames: total,
  };
  const strict = newRule();
  const armed = newRule();
  const plain = newRule();
  for (let k = 0; k < total; k++) {
    const sentAt = k * FRAME_MS;
    const out = bot[k] ?? silent;
    detector.outbound(out, rate, sentAt);
    path?.played(echoSource[k] ?? silent, rate, sentAt);

    let arrivedAt = sentAt + FRAME_MS + random() * (run.line.jitterMs ?? 0);
    const stall = run.line.stall;
    if (stall !== undefined && arrivedAt % stall.everyMs < stall.ms) arrivedAt += stall.ms - (arrivedAt % stall.everyMs);
    let inbound = caller[k - callerFirst] ?? silent;
    // The line mixes on its own clock; jitter and stalls are the reader's.
    if (path !== undefined) inbound = path.mix(inbound, sentAt + FRAME_MS);
    if (noise > 0) inbound = addNoise(inbound, noise, random);
    if (run.line.ulaw) inbound = ulawToPcm(pcmToUlaw(inbound));
    const verdict = detector.inbound(inbound, rate, arrivedAt);

    const voiced = rms(inbound) >= run.vadThreshold;
    const beforeOnset = onsetFrame === undefined || k < onsetFrame;
    if (beforeOnset) {
      result.framesBeforeOnset++;
      if (voiced) {
        result.voicedBeforeOnset++;
        if (verdict.callerLikely) result.callerBeforeOnset++;
      }
    } else if (result.firstCallerMs === undefined && verdict.callerLikely) result.firstCallerMs = k * FRAME_MS;
    const silencedAt = Math.ceil(arrivedAt / FRAME_MS) * FRAME_MS;
    const min = run.bargeInMinSpeechMs;
    if (bargeIn(strict, voiced && verdict.callerLikely, true, min, 0)) result.strictFirings.push(silencedAt);
    if (bargeIn(armed, voiced, verdict.callerLikely, min, ARM_FRAMES)) result.armedFirings.push(silencedAt);
    if (bargeIn(plain, voiced, true, min, 0)) result.plainFirings.push(silencedAt);
  }
  return result;
}

interface Rule {
  voicedMs: number;
  gapMs: number;
  callerFrames: number;
}

function newRule(): Rule {
  return { voicedMs: 0, gapMs: 0, callerFrames: 0 };
}

/**
 * The session's rule on one frame; true when it fires (and it re-arms). With `armFrames` > 0 the
 * count starts at a caller frame and fires only once it holds `armFrames` of them.
 */
function bargeIn(rule: Rule, voiced: boolean, caller: boolean, minSpeechMs: number, armFrames: number): boolean {
  if (voiced && (armFrames === 0 || caller || rule.callerFrames > 0)) {
    rule.voicedMs += FRAME_MS;
    rule.gapMs = 0;
    if (caller) rule.callerFrames++;
    if (rule.voicedMs >= minSpeechMs && rule.callerFrames >= armFrames) {
      rule.voicedMs = 0;
      rule.callerFrames = 0;
      return true;
    }
    return false;
  }
  rule.gapMs += FRAME_MS;
  if (rule.gapMs >= VOICE_GAP_MS) {
    rule.voicedMs = 0;
    rule.callerFrames = 0;
  }
  return false;
}

/** `pcm` through an FIR of a unit main tap plus `taps`, scaled back to the level of `pcm`. */
function disperse(pcm: Buffer, rate: number, taps: readonly (readonly [number, number])[]): Buffer {
  const fir = [[0, 1] as const, ...taps].map(([ms, g]) => [Math.round((ms * rate) / 1000), g] as const);
  const samples = pcm.length >> 1;
  const filtered = new Float64Array(samples);
  let before = 0;
  let after = 0;
  for (let i = 0; i < samples; i++) {
    let v = 0;
    for (const [lag, g] of fir) if (i >= lag) v += g * pcm.readInt16LE((i - lag) * 2);
    filtered[i] = v;
    before += pcm.readInt16LE(i * 2) ** 2;
    after += v * v;
  }
  // The path's loss is the echo's level whatever its colour: the taps change the spectrum only.
  const scale = after > 0 ? Math.sqrt(before / after) : 1;
  const out = Buffer.alloc(pcm.length);
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(filtered[i]! * scale))), i * 2);
  return out;
}

function addNoise(frame: Buffer, level: number, random: () => number): Buffer {
  const out = Buffer.allocUnsafe(frame.length);
  for (let i = 0; i < frame.length; i += 2) {
    // Sum of uniforms: roughly Gaussian with unit variance.
    const g = (random() + random() + random() + random() - 2) * Math.sqrt(3);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(frame.readInt16LE(i) + g * level))), i);
  }
  return out;
}
