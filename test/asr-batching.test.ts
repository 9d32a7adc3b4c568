import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAsrConfig } from '../src/asr/config.js';
import { createYandexAsr } from '../src/asr/yandex.js';
import type { AsrEvent } from '../src/asr/asr.js';
import { EnvReader } from '../src/config/env-reader.js';
import { concatPcm, silence, toFrames } from '../src/audio/frames.js';
import { AudioBatcher } from '../src/asr/audio-batcher.js';
import { rms } from '../src/audio/vad.js';
import { readWav } from '../src/audio/wav.js';
import { silentLogger } from '../src/logger.js';
import { closeSharedClients } from '../src/yandex/grpc.js';
import { startFakeYandexStt, type FakeYandexStt } from './fakes/yandex-stt-server.js';

const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));
const CREDENTIALS = { apiKey: 'test-key', iamToken: undefined, folderId: 'folder-1', tls: false };
const RATE = 8000;
/** The fake's own voice threshold: its EOU counts from the last frame at least this loud. */
const FAKE_RMS = 300;

after(() => closeSharedClients());

interface Run {
  fake: FakeYandexStt;
  events: { event: AsrEvent; at: number }[];
  /** Wall time each frame was handed to the recognizer. */
  sentAt: number[];
}

/**
 * Feeds `frames` in real time (20 ms apart on an absolute clock) to a recognizer batching quiet
 * audio in `quietBatchMs` messages and voice in `voiceBatchMs` ones while `partialsWanted` (given
 * the frames fed so far) says no.
 */
async function recognize(frames: Buffer[], quietBatchMs: number, voiceBatchMs = 20, partialsWanted?: (framesFed: number) => boolean): Promise<Run> {
  const fake = await startFakeYandexStt({ finalText: (u) => `utterance ${u.utterance}` });
  const config = { ...readAsrConfig(new EnvReader({ YANDEX_STT_ENDPOINT: fake.endpoint })).yandex, endGraceMs: 2_000, quietBatchMs, voiceBatchMs };
  const asr = createYandexAsr(config, { credentials: CREDENTIALS });
  const sentAt: number[] = [];
  async function* paced(): AsyncGenerator<Buffer> {
    const start = performance.now();
    for (let i = 0; i < frames.length; i++) {
      const wait = start + i * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      sentAt.push(performance.now());
      yield frames[i]!;
    }
  }
  const events: Run['events'] = [];
  const session = { sampleRate: RATE, signal: new AbortController().signal, log: silentLogger(), ...(partialsWanted ? { partialsWanted: () => partialsWanted(sentAt.length) } : {}) };
  for await (const event of asr.transcribe(paced(), session)) {
    events.push({ event, at: performance.now() });
  }
  return { fake, events, sentAt };
}

/** Each EOU of `run`, measured from the last frame of its utterance loud enough for the fake to count, ms. */
function eouDelays(run: Run, frames: Buffer[]): number[] {
  const voicedFrames = frames.flatMap((f, i) => (rms(f) >= FAKE_RMS ? [i] : []));
  let from = 0;
  return run.events.filter((e) => e.event.type === 'eou').map((e) => {
    const last = voicedFrames.filter((i) => i >= from && run.sentAt[i]! < e.at).at(-1)!;
    from = last + 1;
    return e.at - run.sentAt[last]!;
  });
}

test('quiet audio goes in fewer messages, and no end of utterance comes later than frame by frame', async () => {
  const speech = async (stem: string) => (await readWav(`${AUDIO_DIR}${stem}-8k.wav`)).pcm;
  const pcm = concatPcm([silence(2_000, RATE), await speech('en-wait'), silence(1_500, RATE), await speech('en-number'), silence(1_500, RATE)]);
  const frames = [...toFrames(pcm, RATE)];
  // Both recognitions at once, so that a loaded machine delays both alike.
  const [batched, alone] = await Promise.all([recognize(frames, 100), recognize(frames, 20)]);
  try {
    for (const run of [batched, alone]) {
      assert.deepEqual(run.events.filter((e) => e.event.type !== 'partial').map((e) => e.event.type), ['final', 'eou', 'final', 'eou']);
      assert.equal(run.fake.sessions.length, 1);
      assert.equal(run.fake.sessions[0]!.bytes, frames.reduce((n, f) => n + f.length, 0), 'every byte of audio reached the recognizer');
    }
    const [b, a] = [batched.fake.sessions[0]!.chunks, alone.fake.sessions[0]!.chunks];
    assert.equal(a, frames.length);
    assert.ok(b < a * 0.75, `batched ${b} messages, frame by frame ${a}`);

    const [db, da] = [eouDelays(batched, frames), eouDelays(alone, frames)];
    process.stdout.write(`# messages ${b} / ${a}; EOU after the last voice, batched / frame by frame: ${db.map((d, u) => `${d.toFixed(0)} / ${da[u]!.toFixed(0)} ms`).join(', ')}\n`);
    for (let u = 0; u < 2; u++) {
      assert.ok(db[u]! <= da[u]! + 25, `utterance ${u}: EOU ${db[u]!.toFixed(0)} ms after the last voice batched, ${da[u]!.toFixed(0)} ms frame by frame`);
    }
  } finally {
    await Promise.all([batched.fake.close(), alone.fake.close()]);
  }
});

test('voice goes in fewer messages while no one waits on partials, frame by frame while someone does, and no end of utterance comes later', async () => {
  const speech = async (stem: string) => (await readWav(`${AUDIO_DIR}${stem}-8k.wav`)).pcm;
  const pcm = concatPcm([silence(500, RATE), await speech('en-wait'), silence(1_500, RATE), await speech('en-number'), silence(1_500, RATE)]);
  const frames = [...toFrames(pcm, RATE)];
  // Partials wanted for the first utterance only (a reply is playing), then not.
  const secondStarts = frames.length - Math.round((1_500 + 2_000) / 20);
  const [voice, quietOnly] = await Promise.all([
    recognize(frames, 100, 60, (fed) => fed <= secondStarts),
    recognize(frames, 100),
  ]);
  try {
    for (const run of [voice, quietOnly]) {
      assert.deepEqual(run.events.filter((e) => e.event.type !== 'partial').map((e) => e.event.type), ['final', 'eou', 'final', 'eou']);
      assert.equal(run.fake.sessions[0]!.bytes, frames.reduce((n, f) => n + f.length, 0), 'every byte of audio reached the recognizer');
    }
    const [v, q] = [voice.fake.sessions[0]!.chunks, quietOnly.fake.sessions[0]!.chunks];
    assert.ok(v < q, `voice batched ${v} messages, quiet only ${q}`);
    // Which frames each message carried: while partials were wanted, a message holds at most one
    // voiced frame, as its last; afterwards voice goes several frames a message.
    const voiced = frames.map((f) => rms(f) >= 200);
    let at = 0;
    const messages = voice.fake.sessions[0]!.chunkBytes.map((bytes) => {
      const covered = Array.from({ length: bytes / frames[0]!.length }, (_, k) => at + k);
      at += covered.length;
      return covered;
    });
    for (const covered of messages.filter((m) => m.at(-1)! < secondStarts - 5)) {
      const loud = covered.filter((i) => voiced[i]);
      assert.ok(loud.length === 0 || (loud.length === 1 && loud[0] === covered.at(-1)), `frames ${covered[0]}–${covered.at(-1)} went together while partials were wanted`);
    }
    assert.ok(messages.some((m) => m[0]! > secondStarts && m.filter((i) => voiced[i]).length > 1), 'voice went several frames a message once no one waited on partials');
    const [ev, eq] = [eouDelays(voice, frames), eouDelays(quietOnly, frames)];
    process.stdout.write(`# messages ${v} / ${q}; EOU after the last voice, voice batched / quiet only: ${ev.map((d, u) => `${d.toFixed(0)} / ${eq[u]!.toFixed(0)} ms`).join(', ')}\n`);
    for (let u = 0; u < 2; u++) assert.ok(ev[u]! <= eq[u]! + 25, `utterance ${u}: EOU ${ev[u]!.toFixed(0)} ms after the last voice with voice batched, ${eq[u]!.toFixed(0)} ms without`);
  } finally {
    await Promise.all([voice.fake.close(), quietOnly.fake.close()]);
  }
});

test('line noise above the quiet level is never held back, only loud voice is', () => {
  const frameOf = (amplitude: number): Buffer => {
    const pcm = Buffer.alloc(320);
    for (let i = 0; i < 160; i++) pcm.writeInt16LE(i % 2 === 0 ? amplitude : -amplitude, i * 2);
    return pcm;
  };
  const batcher = new AudioBatcher(RATE, { quietBatchMs: 100, voiceBatchMs: 60 }, () => false);
  // −38 dBFS of hiss: voice to the batcher's quiet test, but a recognizer may hear a pause in it.
  const noise = frameOf(400);
  for (let k = 0; k < 20; k++) assert.equal(batcher.take(noise, k * 20, true), noise, `noise frame ${k} went out alone`);
  const loud = frameOf(4000);
  const sent = [0, 1, 2].map((k) => batcher.take(loud, 400 + k * 20, true));
  assert.deepEqual(sent.map((b) => b?.length), [undefined, undefined, 3 * 320], 'loud voice goes 60 ms a message');
  assert.equal(batcher.take(noise, 460, true)?.length, 320, 'the next quieter frame goes out at once');
});
