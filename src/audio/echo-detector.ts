/**
 * Double-talk detection on a phone line: tells the bot's own echo (10–30 dB down, 20–300 ms late)
 * from the caller's voice by comparing 5 ms energy envelopes of what was sent and what came back.
 */
import { BLOCK_MS, blockCount, blockLevels, decibels, power, SILENT_DB } from './envelope.js';
import { OutboundHistory } from './outbound-history.js';
import { pcmDurationMs } from './pcm.js';

/** Tuning of an `EchoDetector`; every field has a default. */
export interface EchoDetectorOptions {
  /** Longest echo delay looked for, ms (default 300). */
  maxDelayMs?: number;
  /** Energy left after the predicted echo must exceed the echo by this much to be the caller, dB (default 3). */
  marginDb?: number;
  /** Echo loss assumed until the echo path is learned: the echo is at most this far below the bot, dB (default 6). */
  minLossDb?: number;
  /** Inbound frames quieter than this are silence, dBFS (default -50). */
  floorDb?: number;
}

/** What one inbound frame holds, as far as the echo of the bot's own audio can tell. */
export interface EchoVerdict {
  /** Level of the inbound frame, dBFS (-100 for digital silence). */
  inboundDb: number;
  /** Level of the echo predicted for this frame, dBFS (-100 when the bot was silent). */
  echoDb: number;
  /** Level left after removing the predicted echo, dBFS. */
  residualDb: number;
  /** The frame is sound that the echo of the bot's audio explains. */
  echoLikely: boolean;
  /** The frame is sound beyond the predicted echo by the margin: the caller's voice. */
  callerLikely: boolean;
}

/** The echo path as learned so far. */
export interface EchoPathEstimate {
  /** True once enough of the bot's audio has come back to rely on the estimate. */
  converged: boolean;
  /** Most likely delay from a frame's send time to its echo, ms. */
  delayMs: number;
  /** How far the echo is below the bot's audio, dB (60 = no echo heard). */
  lossDb: number;
}

/** Log-ratios (inbound − outbound) are clamped to this range: a silent line reads as 60 dB of loss. */
const RATIO_MIN_DB = -60;
const RATIO_MAX_DB = 20;
/** Step of the per-delay median tracker of the log-ratio, dB per block: fast while learning, then slow. */
const LEARN_STEP_DB = 0.5;
const TRACK_STEP_DB = 0.1;
/** A block this much louder than its predicted echo is taken for the caller and not learned from, dB. */
const OUTLIER_DB = 6;
/** Weight of one block in the per-delay spread (a time constant of about 0.5 s of bot audio). */
const SPREAD_WEIGHT = 0.01;
/** Delays whose spread is within this of the best one are all kept as possible echo paths, dB. */
const PLAUSIBLE_SPREAD_DB = 1.5;
/** While the caller is heard over the echo, frames need this much less than the margin to stay the caller, dB. */
const STAY_BELOW_MARGIN_DB = 3;
/** Inbound frames arriving up to this much after their place on the timeline are late, not after a gap, ms. */
const ARRIVAL_SLACK_MS = 100;
/** Blocks of bot audio every delay must have seen before the estimate replaces the worst case. */
const CONVERGED_BLOCKS = 100;
/**
 * Step while the caller seems to talk over the bot, dB per block. Learning from the caller would
 * make the caller's voice pass for echo, so it is slow; it never stops, so an echo path that grew
 * louder is learned in a few seconds. A barge-in silences the bot, and with it the learning.
 */
const DOUBT_STEP_DB = 0.025;
/** An outbound block counts as bot audio when louder than the floor by this much, dB. */
const LOUD_ABOVE_FLOOR_DB = 10;

/**
 * Follows one call's outbound and inbound audio on a common millisecond clock. For each delay in
 * 0–`maxDelayMs` it tracks the median of inbound − outbound block level (the echo loss on that
 * path) and its spread; the delays with the least spread are the echo path. A frame whose energy,
 * less the echo predicted from the bot's audio, still exceeds that echo by `marginDb` is the caller.
 * Until the path is learned the echo is assumed `minLossDb` down at the worst delay of the range.
 */
export class EchoDetector {
  readonly #marginDb: number;
  readonly #minLossDb: number;
  readonly #floorDb: number;
  readonly #loudDb: number;
  readonly #delays: number;
  readonly #outbound: OutboundHistory;
  // Per delay (in blocks): median log-ratio, its spread, updates seen; and the plausible delays
  // (the first `#plausibleCount` entries).
  readonly #loss: Float64Array;
  readonly #spread: Float64Array;
  readonly #seen: Float64Array;
  readonly #plausible: Int32Array;
  #plausibleCount = 0;
  // Scratch for one frame: block levels, predicted echo per block, outbound levels newest first,
  // and those levels widened by one block each side (jitter, and an echo path that smears): block
  // j of the frame at delay d reads `#near[blocks − j + d]`.
  #levels = new Float64Array(8);
  #echo = new Float64Array(8);
  #raw: Float64Array;
  #near: Float64Array;
  #inboundEnd: number | undefined;
  #best = 0;
  #converged = false;
  #doubleTalk = false;

  constructor(options: EchoDetectorOptions = {}) {
    const maxDelayMs = options.maxDelayMs ?? 300;
    if (!(maxDelayMs >= 0 && maxDelayMs <= 2000)) throw new RangeError(`maxDelayMs must be 0–2000, got ${maxDelayMs}`);
    this.#marginDb = options.marginDb ?? 3;
    this.#minLossDb = options.minLossDb ?? 6;
    this.#floorDb = options.floorDb ?? -50;
    this.#loudDb = this.#floorDb + LOUD_ABOVE_FLOOR_DB;
    this.#delays = Math.floor(maxDelayMs / BLOCK_MS) + 1;
    this.#outbound = new OutboundHistory(this.#delays + 64, this.#loudDb);
    this.#loss = new Float64Array(this.#delays).fill(-this.#minLossDb);
    this.#spread = new Float64Array(this.#delays).fill(10);
    this.#seen = new Float64Array(this.#delays);
    this.#plausible = new Int32Array(this.#delays);
    this.#near = new Float64Array(8 + this.#delays + 2);
    this.#raw = new Float64Array(8 + this.#delays + 2);
  }

  /** Records one frame of s16le PCM (before any μ-law encoding) as written to the wire at `atMs`: it plays from then on. */
  outbound(pcm: Buffer, sampleRate: number, atMs: number): void {
    const blocks = this.#blockLevels(pcm, sampleRate);
    this.#outbound.record(Math.round(atMs / BLOCK_MS), this.#levels, blocks);
  }

  /** Judges one inbound frame of s16le PCM that arrived at `atMs` (it holds the audio just before). */
  inbound(pcm: Buffer, sampleRate: number, atMs: number): EchoVerdict {
    const blocks = this.#blockLevels(pcm, sampleRate);
    const levels = this.#levels;
    const durationMs = pcmDurationMs(pcm.length, sampleRate);
    const first = Math.round((this.#inboundTime(atMs, durationMs) - durationMs) / BLOCK_MS);
    // No bot audio within reach of any delay: nothing to predict or learn.
    const botAudible = first - this.#outbound.lastLoud <= this.#delays;
    if (botAudible) {
      this.#choosePaths();
      this.#outboundNear(first, blocks);
    }
    let inPower = 0;
    let echoPower = 0;
    let residual = 0;
    const echo = this.#echo;
    for (let j = 0; j < blocks; j++) {
      if (botAudible) echo[j] = this.#predict(blocks - j);
      else echo[j] = SILENT_DB;
      const p = power(levels[j]!);
      const e = power(echo[j]!);
      inPower += p;
      echoPower += e;
      if (p > e) residual += p - e;
    }
    const inboundDb = decibels(inPower / blocks);
    const echoDb = decibels(echoPower / blocks);
    const residualDb = decibels(residual / blocks);
    // Hysteresis: once the caller is heard over the echo, a smaller excess keeps it so.
    const margin = this.#doubleTalk ? this.#marginDb - STAY_BELOW_MARGIN_DB : this.#marginDb;
    const callerLikely = residualDb > this.#floorDb && residualDb > echoDb + margin;
    const echoLikely = inboundDb > this.#floorDb && !callerLikely;
    this.#doubleTalk = callerLikely;

    if (botAudible) {
      for (let j = 0; j < blocks; j++) {
        // A block well above its predicted echo is likely the caller starting to speak.
        const doubt = this.#converged && (callerLikely || levels[j]! > this.#echo[j]! + OUTLIER_DB);
        this.#learn(blocks - j, levels[j]!, doubt);
      }
    }
    return { inboundDb, echoDb, residualDb, echoLikely, callerLikely };
  }

  /**
   * When an inbound frame ends. The peer sends frames on its own 20 ms clock, so they are laid end
   * to end: frames read together after an event-loop stall keep their spacing. The timeline follows
   * the earliest arrivals (a frame is never early, only late) and re-anchors after a gap.
   */
  #inboundTime(atMs: number, durationMs: number): number {
    const next = this.#inboundEnd === undefined ? atMs : this.#inboundEnd + durationMs;
    const end = atMs < next || atMs > next + ARRIVAL_SLACK_MS ? atMs : next;
    this.#inboundEnd = end;
    return end;
  }

  /** The echo path learned so far. */
  estimate(): EchoPathEstimate {
    this.#choosePaths();
    return { converged: this.#converged, delayMs: this.#best * BLOCK_MS, lossDb: -this.#loss[this.#best]! };
  }

  /** Block levels of a frame into `#levels`, growing the scratch for long frames; returns the block count. */
  #blockLevels(pcm: Buffer, sampleRate: number): number {
    const blocks = blockCount(pcm.length >> 1, sampleRate);
    if (blocks > this.#levels.length) {
      this.#levels = new Float64Array(blocks);
      this.#echo = new Float64Array(blocks);
      this.#near = new Float64Array(blocks + this.#delays + 2);
      this.#raw = new Float64Array(blocks + this.#delays + 2);
    }
    return blockLevels(pcm, sampleRate, this.#levels);
  }

  /** Fills `#near` for `blocks` inbound blocks from absolute index `first`. */
  #outboundNear(first: number, blocks: number): void {
    const near = this.#near;
    const raw = this.#raw;
    // Outbound levels from first + blocks down to first − delays − 1, newest first.
    this.#outbound.newestFirst(first + blocks, blocks + this.#delays + 2, raw);
    for (let k = 1, end = blocks + this.#delays; k < end; k++) {
      const a = raw[k - 1]!;
      const b = raw[k]!;
      const c = raw[k + 1]!;
      near[k] = a > b ? (a > c ? a : c) : b > c ? b : c;
    }
  }

  /** Predicted echo level (dBFS) of the inbound block read at `near[base + d]` for delay d. */
  #predict(base: number): number {
    const near = this.#near;
    const delays = this.#delays;
    let echo = SILENT_DB;
    if (!this.#converged) {
      for (let d = 0; d < delays; d++) if (near[base + d]! > echo) echo = near[base + d]!;
      return echo <= SILENT_DB ? SILENT_DB : echo - this.#minLossDb;
    }
    const loss = this.#loss;
    const plausible = this.#plausible;
    for (let i = 0; i < this.#plausibleCount; i++) {
      const d = plausible[i]!;
      const out = near[base + d]!;
      if (out <= SILENT_DB) continue;
      const level = out + loss[d]!;
      if (level > echo) echo = level;
    }
    return echo;
  }

  /** Updates each delay's loss and spread with the level `inDb` of the block read at `near[base + d]`; slowly when in `doubt`. */
  #learn(base: number, inDb: number, doubt: boolean): void {
    const near = this.#near;
    const loss = this.#loss;
    const spread = this.#spread;
    const seen = this.#seen;
    const loud = this.#loudDb;
    const delays = this.#delays;
    for (let d = 0; d < delays; d++) {
      const out = near[base + d]!;
      if (out < loud) continue;
      let x = inDb - out;
      if (x < RATIO_MIN_DB) x = RATIO_MIN_DB;
      else if (x > RATIO_MAX_DB) x = RATIO_MAX_DB;
      const q = loss[d]!;
      const deviation = x > q ? x - q : q - x;
      spread[d] = spread[d]! + SPREAD_WEIGHT * (deviation - spread[d]!);
      const step = seen[d]! < CONVERGED_BLOCKS ? LEARN_STEP_DB : doubt ? DOUBT_STEP_DB : TRACK_STEP_DB;
      loss[d] = x > q ? q + step : x < q ? q - step : q;
      seen[d] = seen[d]! + 1;
    }
  }

  /** Once every delay has seen enough of the bot, picks the best one and those as consistent as it. */
  #choosePaths(): void {
    const spread = this.#spread;
    const seen = this.#seen;
    let best = 0;
    for (let d = 0; d < spread.length; d++) {
      // Short delays hear the bot first: choosing among them alone would pick a wrong path.
      if (seen[d]! < CONVERGED_BLOCKS) {
        this.#converged = false;
        return;
      }
      if (spread[d]! < spread[best]!) best = d;
    }
    this.#converged = true;
    this.#best = best;
    const limit = spread[best]! + PLAUSIBLE_SPREAD_DB;
    let count = 0;
    for (let d = 0; d < spread.length; d++) if (spread[d]! <= limit) this.#plausible[count++] = d;
    this.#plausibleCount = count;
  }
}
