/**
 * Echo benchmark, offline: the bot's speech (espeak WAVs, or the TTS fake's tone) comes back on
 * the caller's leg at a delay and loss, on a clean line and on a rough one (dispersive echo path,
 * line noise, μ-law, 8 ms arrival jitter, a 60 ms read stall every second), with and without
 * caller speech on top. Reports how often the session's barge-in rule (voice ≥ 200 ms) fires on
 * the echo per minute of bot speech with the echo guard and without it, and the time from the
 * caller's speech onset to bot silence.
 *
 * Flags: --margin-db N  --min-loss-db N  --max-delay-ms N (detector settings; defaults as ECHO_GUARD_*)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { concatPcm, silence } from '../src/audio/frames.js';
import { resample } from '../src/audio/resample.js';
import { parseWav } from '../src/audio/wav.js';
import type { EchoDetectorOptions } from '../src/audio/echo-detector.js';
import { readEchoGuardConfig } from '../src/call/echo-guard-config.js';
import { EnvReader } from '../src/config/env-reader.js';
import { percentile } from '../src/sim/stats.js';
import type { EchoOptions } from '../src/sim/echo-path.js';
import { fakeSpeechPcm } from '../test/fakes/yandex-tts-server.js';
import { ARM_FRAMES, detectorCost, runLine, type LineImpairments, type LineResult } from './lib/echo-line.js';

const RATE = 8000;
const VAD_THRESHOLD = 500;
const BARGE_IN_MIN_SPEECH_MS = 200;
const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));
const PATHS: readonly EchoOptions[] = [
  { delayMs: 60, gainDb: -12 },
  { delayMs: 200, gainDb: -6 },
  { delayMs: 200, gainDb: -20 },
  { delayMs: 30, gainDb: -20 },
];
const LINES: Record<string, LineImpairments> = {
  clean: { jitterMs: 2 },
  rough: { taps: [[2, 0.6], [5, -0.4], [9, 0.25], [15, -0.15]], noiseDbfs: -55, ulaw: true, jitterMs: 8, stall: { everyMs: 1000, ms: 60 } },
};
/** Caller onsets per bot track: spread over the track, past its first second. */
const ONSETS = 12;

function wav(stem: string): Buffer {
  return parseWav(readFileSync(`${AUDIO_DIR}${stem}-8k.wav`)).pcm;
}

/** About a minute of bot speech: four espeak sentences with pauses, four times over. */
function botSpeech(): Buffer {
  const once = ['en-order', 'ru-number', 'en-number', 'ru-order'].flatMap((s) => [wav(s), silence(400, RATE)]);
  return concatPcm([...once, ...once, ...once, ...once]);
}

/** About a minute of the TTS fake's voice: reply chunks as its 440 Hz tone, with pauses between replies. */
function botTone(): Buffer {
  const chunks = ['Sure, let me look that up for you.', 'Your order was placed yesterday evening.', 'It ships tomorrow.'];
  const reply = chunks.map((text) => fakeSpeechPcm(text, RATE, { msPerChar: 60, toneHz: 440 }));
  const parts: Buffer[] = [];
  for (let i = 0; i < 7; i++) parts.push(...reply, silence(700, RATE));
  return concatPcm(parts);
}

function options(): EchoDetectorOptions {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { 'margin-db': { type: 'string' }, 'min-loss-db': { type: 'string' }, 'max-delay-ms': { type: 'string' } },
    strict: false,
    allowPositionals: true,
  });
  const env = new EnvReader({
    ECHO_GUARD_MARGIN_DB: values['margin-db'] as string | undefined,
    ECHO_GUARD_MIN_LOSS_DB: values['min-loss-db'] as string | undefined,
    ECHO_GUARD_MAX_DELAY_MS: values['max-delay-ms'] as string | undefined,
  });
  const config = readEchoGuardConfig(env);
  env.finish();
  return { marginDb: config.marginDb, minLossDb: config.minLossDb, maxDelayMs: config.maxDelayMs };
}

function ms(values: number[]): string {
  if (values.length === 0) return '—';
  return `${Math.round(percentile(values, 50))} / ${Math.round(Math.max(...values))}`;
}

interface Row {
  bot: string;
  line: string;
  path: string;
  callerFramePct: string;
  strict: string;
  armed: string;
  plain: string;
  firstCaller: string;
  strictSilence: string;
  armedSilence: string;
  noEchoSilence: string;
  plainSilence: string;
  missed: string;
}

function measure(botName: string, bot: Buffer, lineName: string, line: LineImpairments, echo: EchoOptions, detector: EchoDetectorOptions): Row {
  const base = { sampleRate: RATE, line, detector, vadThreshold: VAD_THRESHOLD, bargeInMinSpeechMs: BARGE_IN_MIN_SPEECH_MS };
  const alone = runLine({ ...base, bot, echo, seed: 1 });
  const botMinutes = bot.length / 2 / RATE / 60;
  const callers = [wav('en-wait'), wav('ru-wait'), wav('en-number')];
  const durationMs = (bot.length / 2 / RATE) * 1000;
  const firstCaller: number[] = [];
  const silenced = { strict: [] as number[], armed: [] as number[], noEcho: [] as number[], plain: [] as number[] };
  const missed = { strict: 0, armed: 0 };
  for (let i = 0; i < ONSETS; i++) {
    const atMs = Math.round(1000 + ((durationMs - 5000) * i) / ONSETS);
    const caller = { pcm: callers[i % callers.length]!, atMs };
    // The bot talks on through the caller's speech and a second after it.
    const until = Math.min(bot.length, Math.round(((atMs + 5000) * RATE) / 1000) * 2);
    const track = bot.subarray(0, until);
    const over = runLine({ ...base, bot: track, echo, caller, seed: 10 + i });
    const clean = runLine({ ...base, bot: track, echo: undefined, caller, seed: 10 + i });
    const onset = over.onsetMs!;
    if (over.firstCallerMs !== undefined) firstCaller.push(over.firstCallerMs - onset);
    const strict = firstAfter(over.strictFirings, onset);
    const armed = firstAfter(over.armedFirings, onset);
    if (strict === undefined) missed.strict++;
    else silenced.strict.push(strict - onset);
    if (armed === undefined) missed.armed++;
    else silenced.armed.push(armed - onset);
    const noEcho = firstAfter(clean.strictFirings, onset);
    if (noEcho !== undefined) silenced.noEcho.push(noEcho - onset);
    const plain = firstAfter(clean.plainFirings, onset);
    if (plain !== undefined) silenced.plain.push(plain - onset);
  }
  return {
    bot: botName,
    line: lineName,
    path: `${echo.delayMs} ms ${echo.gainDb} dB`,
    callerFramePct: pct(alone),
    strict: (alone.strictFirings.length / botMinutes).toFixed(1),
    armed: (alone.armedFirings.length / botMinutes).toFixed(1),
    plain: (alone.plainFirings.length / botMinutes).toFixed(1),
    firstCaller: ms(firstCaller),
    strictSilence: ms(silenced.strict),
    armedSilence: ms(silenced.armed),
    noEchoSilence: ms(silenced.noEcho),
    plainSilence: ms(silenced.plain),
    missed: `${missed.strict} / ${missed.armed}`,
  };
}

function pct(r: LineResult): string {
  return r.voicedBeforeOnset === 0 ? '—' : `${((r.callerBeforeOnset / r.voicedBeforeOnset) * 100).toFixed(2)} %`;
}

function firstAfter(times: number[], atMs: number): number | undefined {
  return times.find((t) => t >= atMs);
}

/** Runs the echo benchmark and prints its tables. */
export async function run(): Promise<void> {
  const detector = options();
  const bots = { speech: botSpeech(), tone: botTone() };
  const rows: Row[] = [];
  for (const [botName, bot] of Object.entries(bots)) {
    for (const [lineName, line] of Object.entries(LINES)) {
      for (const echo of PATHS) rows.push(measure(botName, bot, lineName, line, echo, detector));
    }
  }
  const out = process.stdout;
  out.write(`detector: margin ${detector.marginDb} dB, echo assumed ${detector.minLossDb} dB down until learned, delays 0–${detector.maxDelayMs} ms; ` +
    `VAD ${VAD_THRESHOLD}, barge-in after ${BARGE_IN_MIN_SPEECH_MS} ms of voice (gaps < 300 ms); ${ONSETS} caller onsets per row, p50 / max\n`);
  out.write(`strict = only voice the detector calls the caller's counts; armed = all voice from a caller frame on counts, once ${ARM_FRAMES} of its frames were the caller's; none = today's rule\n\n`);
  out.write('| bot | line | echo | echo frames called caller | false barge-ins/min strict / armed / none | onset → 1st caller frame | onset → bot silent, strict | armed | no echo, strict | no echo, none | missed strict / armed |\n');
  out.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
  for (const r of rows) {
    out.write(`| ${r.bot} | ${r.line} | ${r.path} | ${r.callerFramePct} | ${r.strict} / ${r.armed} / ${r.plain} | ${r.firstCaller} ms | ${r.strictSilence} ms | ` +
      `${r.armedSilence} ms | ${r.noEchoSilence} ms | ${r.plainSilence} ms | ${r.missed} |\n`);
  }
  const speechUs = detectorCost(bots.speech, RATE, PATHS[0]!, detector);
  const wideUs = detectorCost(resample(bots.speech, RATE, 16000), 16000, PATHS[0]!, detector);
  out.write(`\ndetector CPU: ${speechUs.toFixed(1)} µs per 20 ms frame at 8 kHz, ${wideUs.toFixed(1)} µs at 16 kHz (one outbound + one inbound frame, during bot speech)\n`);
}
