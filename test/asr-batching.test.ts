import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAsrConfig } from '../src/asr/config.js';
import { createYandexAsr } from '../src/asr/yandex.js';
import type { AsrEvent } from '../src/asr/asr.js';
import { EnvReader } from '../src/config/env-reader.js';
import { concatPcm, silence, toFrames } from '../src/audio/frames.js';
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

/** Feeds `frames` in real time (20 ms apart on an absolute clock) to a recognizer batching quiet audio in `quietBatchMs` messages. */
async function recognize(frames: Buffer[], quietBatchMs: number): Promise<Run> {
  const fake = await startFakeYandexStt({ finalText: (u) => `utterance ${u.utterance}` });
  const config = { ...readAsrConfig(new EnvReader({ YANDEX_STT_ENDPOINT: fake.endpoint })).yandex, endGraceMs: 2_000, quietBatchMs };
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
  for await (const event of asr.transcribe(paced(), { sampleRate: RATE, signal: new AbortController().signal, log: silentLogger() })) {
    events.push({ event, at: performance.now() });
  }
  return { fake, events, sentAt };
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

    // Each EOU measured from the last frame of its utterance loud enough for the fake to count.
    const voicedFrames = frames.flatMap((f, i) => (rms(f) >= FAKE_RMS ? [i] : []));
    const eouDelays = (run: Run): number[] => {
      let from = 0;
      return run.events.filter((e) => e.event.type === 'eou').map((e) => {
        const last = voicedFrames.filter((i) => i >= from && run.sentAt[i]! < e.at).at(-1)!;
        from = last + 1;
        return e.at - run.sentAt[last]!;
      });
    };
    const [db, da] = [eouDelays(batched), eouDelays(alone)];
    process.stdout.write(`# messages ${b} / ${a}; EOU after the last voice, batched / frame by frame: ${db.map((d, u) => `${d.toFixed(0)} / ${da[u]!.toFixed(0)} ms`).join(', ')}\n`);
    for (let u = 0; u < 2; u++) {
      assert.ok(db[u]! <= da[u]! + 25, `utterance ${u}: EOU ${db[u]!.toFixed(0)} ms after the last voice batched, ${da[u]!.toFixed(0)} ms frame by frame`);
    }
  } finally {
    await Promise.all([batched.fake.close(), alone.fake.close()]);
  }
});
