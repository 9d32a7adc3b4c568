import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import type { Message } from '../src/audiosocket/codec.js';
import { loadCapture, type Capture } from '../src/sim/capture.js';
import { runCall } from '../src/sim/run-call.js';
import { measureTone } from '../src/sim/tone.js';
import { expectedSpeechMs } from './fakes/yandex-tts-server.js';
import { replayUntilClosed, type ReplayHold } from './support/replay.js';
import { closeChannels, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait-for.js';

const capture = (name: string) => loadCapture(new URL(`../../shared/captures/${name}.bin`, import.meta.url).pathname);
const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);

after(() => closeChannels());

const MS_PER_CHAR = 40;
const GREETING = 'Здравствуйте, чем могу помочь?';
// Long enough (2.5 s) to be still playing when the caller's first frame comes 1.5 s into the call.
const LONG_GREETING = 'Здравствуйте! Вы позвонили в службу доставки, чем могу помочь?';
const REPLY = 'Доставка стоит сто рублей.';
// Barge-in off: the caller of a capture talks over the bot, and these tests measure whole phrases.
// The digits of a capture are collected however late a loaded machine delivers them.
const ENV = { GREETING_TEXT: GREETING, BOT_LANGUAGE: 'ru', BARGE_IN: 'false', LOG_LEVEL: 'info', DTMF_COLLECT_MS: '10000' };

type AudioMessage = Extract<Message, { type: 'audio' }>;

/** The reply sounds at another pitch than the greeting, so that frames tell which one they carry. */
const GREETING_HZ = 440;
const REPLY_HZ = 660;
const TTS = { msPerChar: MS_PER_CHAR, toneHz: GREETING_HZ, toneHzOf: (text: string) => (text === REPLY ? REPLY_HZ : undefined) };

/**
 * Resolves once the call's playout has written every frame of the greeting. A turn that starts
 * earlier cuts the greeting short, as it should, and a loaded machine plays it slower than real time.
 */
async function greetingPlayed(stack: Stack, greeting: string): Promise<void> {
  const call = await waitFor(() => stack.server.calls()[0], 'the call');
  const frames = Math.floor(expectedSpeechMs(greeting, MS_PER_CHAR) / 20);
  await waitFor(() => call.playout.stats.audioFrames >= frames, 'the greeting to be played', 60_000);
}

/** What the caller heard, run-length encoded (kind: silence, greeting or reply × frames), for failure messages. */
function heardRuns(received: readonly Message[]): string {
  const runs: [string, number][] = [];
  for (const m of received) {
    if (m.type !== 'audio') continue;
    const { toneHz, voicedFrames } = measureTone([m]);
    const what = voicedFrames === 0 || toneHz === undefined ? 's' : toneHz < (GREETING_HZ + REPLY_HZ) / 2 ? 'g' : 'r';
    const key = `${m.kind.toString(16)}:${what}`;
    if (runs.at(-1)?.[0] === key) runs.at(-1)![1]++;
    else runs.push([key, 1]);
  }
  return runs.map(([key, n]) => `${key}×${n}`).join(' ');
}

/** The bot's voiced frames, told apart by their pitch (not by the pause between them, which load can close). */
function voices(received: readonly Message[]): { greeting: AudioMessage[]; reply: AudioMessage[] } {
  const greeting: AudioMessage[] = [];
  const reply: AudioMessage[] = [];
  for (const m of received) {
    if (m.type !== 'audio') continue;
    const { toneHz, voicedFrames } = measureTone([m]);
    if (voicedFrames === 0 || toneHz === undefined) continue;
    (toneHz < (GREETING_HZ + REPLY_HZ) / 2 ? greeting : reply).push(m);
  }
  return { greeting, reply };
}

function assertHeard(frames: AudioMessage[], text: string, hz: number, what: string, heard = ''): void {
  assert.ok(frames.length > 0, `${what} was not heard: ${heard}`);
  const tone = measureTone(frames);
  assert.ok(tone.toneHz !== undefined && Math.abs(tone.toneHz - hz) < 10, `${what} heard at ${tone.toneHz} Hz, not ${hz} Hz: ${heard}`);
  const expected = expectedSpeechMs(text, MS_PER_CHAR);
  assert.ok(Math.abs(tone.soundMs - expected) <= 60, `${what}: ${tone.soundMs} ms of sound, synthesized ${expected} ms: ${heard}`);
}

/**
 * Replays the first `durationMs` of a capture, then holds the line until the bot has said `reply`
 * to the end, when the server hangs up: however slowly a loaded machine gets there.
 */
async function replayUntilReply(stack: Stack, capture: Capture, durationMs: number, reply: string, hold?: ReplayHold): Promise<{ received: Message[] }> {
  const replay = replayUntilClosed(stack.port, capture, durationMs, hold);
  const call = await waitFor(() => stack.server.calls()[0], 'the call');
  const t0 = capture.messages[0]?.atMs ?? 0;
  const audioFrames = capture.messages.filter((m) => m.atMs - t0 <= durationMs && m.kind >= 0x10 && m.kind <= 0x18).length;
  await waitFor(() => stack.server.stats.framesIn >= audioFrames, 'the replayed audio to arrive');
  await waitFor(() => stack.tts.requests.some((r) => r.text === reply), 'the reply to be synthesized', 60_000);
  await waitFor(() => !call.playout.idle, 'the reply to start playing');
  await call.playout.whenIdle();
  call.hangUp();
  return { received: await replay };
}

describe('one audio format per moment, with real Asterisk timing', { concurrency: true }, () => {
  test('Dial form, 16 kHz after 1.5 s of nothing: recognizer at 16 kHz, greeting and reply at their true pitch and length', async () => {
    const stack = await startStack({
      stt: { finalText: () => 'Сколько стоит доставка?' },
      llm: { script: [{ text: REPLY }] },
      tts: TTS,
      env: { ...ENV, GREETING_TEXT: LONG_GREETING },
    });
    try {
      // UUID, 1.5 s of nothing, then 0x12 frames; stop after the first utterance and its pause.
      const result = await replayUntilReply(stack, await capture('dial-slin16'), 4100, REPLY);
      const session = stack.stt.sessions[0];
      assert.ok(session, 'the recognizer was never opened');
      assert.equal(stack.stt.sessions.length, 1, 'one recognizer stream, opened once');
      assert.equal(Number(session.options?.recognition_model?.audio_format?.raw_audio?.sample_rate_hertz), 16000);
      // Told 16 kHz and fed 16 kHz: the PCM it got lasts, at 16 kHz, as long as the caller spoke (2.6 s).
      const pcmMs = (session.bytes / 2 / 16000) * 1000;
      assert.ok(pcmMs > 2300 && pcmMs < 2700, `${pcmMs} ms of audio at 16 kHz for 2.6 s sent`);
      const said = voices(result.received);
      // The greeting began under the 8 kHz fallback and went on across the switch to 0x12, once.
      const kinds = said.greeting.map((m) => m.kind).filter((kind, i, all) => kind !== all[i - 1]);
      const heard = heardRuns(result.received);
      assert.deepEqual(kinds, [0x10, 0x12], heard);
      assertHeard(said.greeting, LONG_GREETING, GREETING_HZ, 'the greeting', heard);
      assert.ok(said.reply.every((m) => m.kind === 0x12 && m.payload.length === 640), 'the reply is written in 16 kHz frames');
      assertHeard(said.reply, REPLY, REPLY_HZ, 'the reply', heard);
      assert.equal(stack.tts.requests.at(-1)!.sampleRate, 16000, 'the reply is synthesized at the wire rate');
    } finally {
      await stack.close();
    }
  });

  test('application form, 8 kHz, DTMF before any audio: no recognizer until audio, the reply at its true pitch', async () => {
    const stack = await startStack({
      llm: { script: [{ text: REPLY }] },
      tts: TTS,
      env: ENV,
    });
    try {
      // UUID, then the digits 1 2 3 # and no audio frame at all (the caller's leg is in Wait()).
      // The digits (from 2.2 s) wait for the greeting to be over, however long a loaded machine takes.
      const hold = { atMs: 2000, until: () => greetingPlayed(stack, GREETING) };
      const result = await replayUntilReply(stack, await capture('app-8k-dtmf'), 3400, REPLY, hold);
      assert.equal(stack.stt.sessions.length, 0, 'a recognizer opened with nothing to recognize');
      assert.match(JSON.stringify(stack.llm.requests[0]?.body.messages), /123#/);
      const said = voices(result.received);
      for (const phrase of [said.greeting, said.reply]) assert.ok(phrase.every((m) => m.kind === 0x10 && m.payload.length === 320));
      assertHeard(said.greeting, GREETING, GREETING_HZ, 'the greeting');
      assertHeard(said.reply, REPLY, REPLY_HZ, 'the reply');
    } finally {
      await stack.close();
    }
  });

  test('a μ-law caller silent for 1.5 s: the recognizer is told 8 kHz and the reply is heard in μ-law at 440 Hz', async () => {
    const stack = await startStack({
      stt: { finalText: () => 'Сколько стоит доставка?', eouSilenceMs: 300 },
      llm: { script: [{ text: REPLY }] },
      tts: { msPerChar: MS_PER_CHAR },
      env: ENV,
    });
    try {
      const order = await audio('ru-order-8k.wav');
      const report = await runCall({
        port: stack.port,
        sampleRate: 8000,
        encoding: 'ulaw',
        silentStartMs: 1500,
        turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 1600 }],
        replyEndSilenceMs: 400,
        replyTimeoutMs: 60_000,
      });
      assert.equal(report.error, undefined);
      assert.equal(Number(stack.stt.sessions[0]?.options?.recognition_model?.audio_format?.raw_audio?.sample_rate_hertz), 8000);
      const reply = report.turns[0];
      assert.ok(reply?.toneHz !== undefined && Math.abs(reply.toneHz - 440) < 10, `reply heard at ${reply?.toneHz} Hz`);
      assert.ok(Math.abs(reply.soundMs! - expectedSpeechMs(REPLY, MS_PER_CHAR)) <= 60, `reply: ${reply.soundMs} ms of sound`);
      assert.ok(report.frameSizes['160']! > 0, 'the server answers μ-law in μ-law');
    } finally {
      await stack.close();
    }
  });
});
