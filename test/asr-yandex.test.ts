import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { readAsrConfig, type YandexSttConfig } from '../src/asr/config.js';
import { createYandexAsr } from '../src/asr/yandex.js';
import type { Asr, AsrEvent } from '../src/asr/asr.js';
import { EnvReader } from '../src/config/env-reader.js';
import { concatPcm, silence, toFrames } from '../src/audio/frames.js';
import { readWav } from '../src/audio/wav.js';
import { VoicebotError } from '../src/errors.js';
import { createLogger, silentLogger, type Logger } from '../src/logger.js';
import { closeSharedClients } from '../src/yandex/grpc.js';
import { startFakeYandexStt, type FakeYandexStt, type FakeSttSession } from './fakes/yandex-stt-server.js';

const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));
const CREDENTIALS = { apiKey: 'test-key', iamToken: undefined, folderId: 'folder-1', tls: false };

after(() => closeSharedClients());

async function speech(stem: string, rate: number): Promise<Buffer> {
  const wav = await readWav(`${AUDIO_DIR}${stem}-${rate / 1000}k.wav`);
  assert.equal(wav.sampleRate, rate);
  return wav.pcm;
}

/** Utterances separated by 600 ms of silence (longer than the fake's 400 ms EOU pause). */
async function conversation(stems: string[], rate: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const stem of stems) parts.push(await speech(stem, rate), silence(600, rate));
  return concatPcm(parts);
}

function sttConfig(fake: FakeYandexStt, overrides: Partial<YandexSttConfig> = {}): YandexSttConfig {
  const base = readAsrConfig(new EnvReader({ YANDEX_STT_ENDPOINT: fake.endpoint })).yandex;
  return { ...base, endGraceMs: 2_000, ...overrides };
}

/** 20 ms frames, each `frameDelayMs` after the previous one (0 = as fast as they are read). */
async function* frames(pcm: Buffer, rate: number, frameDelayMs = 0): AsyncGenerator<Buffer> {
  const start = performance.now();
  let i = 0;
  for (const frame of toFrames(pcm, rate)) {
    if (frameDelayMs > 0) {
      const wait = start + i * frameDelayMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
    i += 1;
    yield frame;
  }
}

async function collect(asr: Asr, audio: AsyncIterable<Buffer>, rate: number, opts: { signal?: AbortSignal; log?: Logger } = {}): Promise<AsrEvent[]> {
  const events: AsrEvent[] = [];
  const signal = opts.signal ?? new AbortController().signal;
  for await (const event of asr.transcribe(audio, { sampleRate: rate, signal, log: opts.log ?? silentLogger() })) events.push(event);
  return events;
}

const finals = (events: AsrEvent[]): string[] => events.flatMap((e) => (e.type === 'final' ? [e.text] : []));

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

/** What the recognizer heard once: each session up to its last final, then all of the last one. */
function heardOnce(sessions: FakeSttSession[]): Buffer {
  const parts = sessions.map((s, i) => {
    const all = Buffer.concat(s.audio);
    return i === sessions.length - 1 ? all : all.subarray(0, s.finalizedBytes);
  });
  return Buffer.concat(parts);
}

test('a real recording gives growing partials, then one final and an eou per utterance', async () => {
  const texts = ['здравствуйте хотел бы узнать статус заказа', 'yes the order number is one two three four'];
  const fake = await startFakeYandexStt({ finalText: (u) => texts[u.utterance] ?? '?' });
  try {
    const rate = 8000;
    const pcm = await conversation(['ru-order', 'en-number'], rate);
    const events = await collect(createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS }), frames(pcm, rate), rate);

    assert.deepEqual(finals(events), texts);
    assert.deepEqual(events.filter((e) => e.type !== 'partial').map((e) => e.type), ['final', 'eou', 'final', 'eou']);
    const firstFinal = events.findIndex((e) => e.type === 'final');
    const partials = events.slice(0, firstFinal).map((e) => (e.type === 'partial' ? e.text : ''));
    assert.ok(partials.length >= 2, 'several partials before the first final');
    for (let i = 1; i < partials.length; i++) assert.ok(partials[i]!.startsWith(partials[i - 1]!), 'partials grow');
  } finally {
    await fake.close();
  }
});

test('session options come first: LINEAR16_PCM at the call rate, model, language, EOU settings, auth metadata', async () => {
  const fake = await startFakeYandexStt();
  try {
    const rate = 16000;
    const pcm = await conversation(['en-wait'], rate);
    const config = sttConfig(fake, { model: 'general:rc', language: 'en-US', eouSensitivity: 'HIGH', maxPauseMs: 700 });
    const events = await collect(createYandexAsr(config, { credentials: CREDENTIALS }), frames(pcm, rate), rate);
    assert.equal(finals(events).length, 1);

    const session = fake.sessions[0]!;
    const model = session.options?.recognition_model;
    assert.deepEqual(model?.audio_format.raw_audio, { audio_encoding: 'LINEAR16_PCM', sample_rate_hertz: 16000, audio_channel_count: 1 });
    assert.equal(model?.model, 'general:rc');
    assert.deepEqual(model?.language_restriction.language_code, ['en-US']);
    assert.equal(model?.text_normalization.text_normalization, 'TEXT_NORMALIZATION_ENABLED');
    assert.equal(session.options?.eou_classifier.default_classifier.type, 'HIGH');
    assert.equal(Number(session.options?.eou_classifier.default_classifier.max_pause_between_words_hint_ms), 700);
    assert.equal(session.authorization, 'Api-Key test-key');
    assert.equal(session.folderId, 'folder-1');
    assert.equal(session.bytes, toFrames(pcm, rate).length * 640);
  } finally {
    await fake.close();
  }
});

test('an IAM token is sent as a Bearer token', async () => {
  const fake = await startFakeYandexStt();
  try {
    const rate = 8000;
    const credentials = { apiKey: undefined, iamToken: 't1.iam', folderId: undefined, tls: false };
    await collect(createYandexAsr(sttConfig(fake), { credentials }), frames(await conversation(['ru-wait'], rate), rate), rate);
    assert.equal(fake.sessions[0]!.authorization, 'Bearer t1.iam');
    assert.equal(fake.sessions[0]!.folderId, undefined);
  } finally {
    await fake.close();
  }
});

test('a normalized final replaces the raw one when the service refines it', async () => {
  const fake = await startFakeYandexStt({ finalText: () => 'номер двенадцать', refine: () => 'номер 12' });
  try {
    const rate = 8000;
    const events = await collect(createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS }), frames(await conversation(['ru-number'], rate), rate), rate);
    assert.deepEqual(finals(events), ['номер 12']);
    assert.equal(events.at(-1)?.type, 'eou');
  } finally {
    await fake.close();
  }
});

test('a quiet leg that sends no frames is covered by silence_chunks: EOU arrives and the session stays open', async () => {
  const fake = await startFakeYandexStt({ idleTimeoutMs: 700 });
  try {
    const rate = 8000;
    const pcm = await speech('ru-wait', rate);
    const controller = new AbortController();
    let sawEou = false;
    async function* quietLeg(): AsyncGenerator<Buffer> {
      yield* frames(pcm, rate);
      // No frames at all now, as from a leg with silence suppression, until the recognizer reacts.
      await until(() => sawEou, 5_000);
      await sleep(1_000);
    }
    const events: AsrEvent[] = [];
    const asr = createYandexAsr(sttConfig(fake, { silenceFillMs: 100 }), { credentials: CREDENTIALS });
    for await (const event of asr.transcribe(quietLeg(), { sampleRate: rate, signal: controller.signal, log: silentLogger() })) {
      events.push(event);
      if (event.type === 'eou') sawEou = true;
    }
    assert.deepEqual(events.filter((e) => e.type !== 'partial').map((e) => e.type), ['final', 'eou']);
    assert.equal(fake.stats.totalStreams, 1, 'no reconnect: the idle timeout never fired');
    assert.ok(fake.sessions[0]!.silenceMs >= 900, `silence sent: ${fake.sessions[0]!.silenceMs} ms`);
  } finally {
    await fake.close();
  }
});

test('sessions rotate at a pause before the limit, and no utterance is lost or repeated', async () => {
  const fake = await startFakeYandexStt({ recordAudio: true });
  try {
    const rate = 8000;
    const pcm = await conversation(['ru-wait', 'en-wait', 'ru-wait', 'en-wait'], rate);
    const config = sttConfig(fake, { rotateAfterMs: 2_000, maxSessionMs: 60_000 });
    const events = await collect(createYandexAsr(config, { credentials: CREDENTIALS }), frames(pcm, rate, 5), rate);

    assert.deepEqual(finals(events), ['utterance 0', 'utterance 1', 'utterance 2', 'utterance 3']);
    assert.equal(events.filter((e) => e.type === 'eou').length, 4);
    assert.ok(fake.stats.totalStreams >= 2, `rotated: ${fake.stats.totalStreams} sessions`);
    for (const s of fake.sessions) assert.ok(s.receivedMs <= 2_000 + 1_000 + 20, `session of ${s.receivedMs} ms`);
    // Rotation happens only after an EOU: the new session never starts with audio of a finished utterance.
    for (const s of fake.sessions.slice(1)) assert.ok(s.finals.length <= 2);
  } finally {
    await fake.close();
  }
});

test('a session at its hard limit mid-utterance rotates and replays exactly the unfinalized audio', async () => {
  const fake = await startFakeYandexStt({ recordAudio: true });
  try {
    const rate = 8000;
    const stems = ['ru-wait', 'en-wait', 'ru-wait', 'en-wait', 'ru-wait', 'en-wait'];
    const pcm = await conversation(stems, rate);
    const config = sttConfig(fake, { rotateAfterMs: 1_000_000, maxSessionMs: 5_000 });
    const events = await collect(createYandexAsr(config, { credentials: CREDENTIALS }), frames(pcm, rate, 5), rate);

    assert.equal(finals(events).length, stems.length, 'one final per utterance');
    assert.equal(new Set(finals(events)).size, stems.length);
    assert.ok(fake.stats.totalStreams >= 3, `rotated: ${fake.stats.totalStreams} sessions`);
    for (const s of fake.sessions) assert.ok(s.receivedMs <= 5_000 + 20, `session of ${s.receivedMs} ms`);
    assert.ok(heardOnce(fake.sessions).equals(Buffer.concat(toFrames(pcm, rate))), 'every byte once, in order');
  } finally {
    await fake.close();
  }
});

test('a stream dropped mid-utterance reconnects, replays the unfinalized audio and the call goes on', async () => {
  const fake = await startFakeYandexStt({ recordAudio: true, drop: { afterBytes: 20_000, times: 1 } });
  try {
    const rate = 8000;
    const pcm = await conversation(['ru-order', 'en-wait', 'ru-wait'], rate);
    const events = await collect(createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS }), frames(pcm, rate, 5), rate);

    assert.equal(fake.sessions[0]!.end, 'dropped');
    assert.equal(fake.stats.totalStreams, 2);
    assert.deepEqual(finals(events), ['utterance 1', 'utterance 2', 'utterance 3'], 'the cut utterance is recognized once, by the new session');
    assert.ok(heardOnce(fake.sessions).equals(Buffer.concat(toFrames(pcm, rate))), 'every byte once, in order');
  } finally {
    await fake.close();
  }
});

test('a CLOSED status continues in a new session without losing the utterance', async () => {
  const fake = await startFakeYandexStt({ recordAudio: true, close: { afterMs: 1_500, times: 1 } });
  try {
    const rate = 16000;
    const pcm = await conversation(['en-order', 'en-wait'], rate);
    const events = await collect(createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS }), frames(pcm, rate, 5), rate);

    assert.equal(fake.sessions[0]!.end, 'closed');
    assert.equal(fake.stats.totalStreams, 2);
    assert.deepEqual(finals(events), ['utterance 1', 'utterance 2']);
    assert.ok(heardOnce(fake.sessions).equals(Buffer.concat(toFrames(pcm, rate))), 'every byte once, in order');
  } finally {
    await fake.close();
  }
});

test('a stream that stops answering is replaced after the stall timeout, and the call goes on', async () => {
  const fake = await startFakeYandexStt({ statusEveryMs: 100, hang: { afterMs: 1_000, times: 1 } });
  try {
    const rate = 8000;
    const pcm = await conversation(['ru-order', 'en-wait'], rate);
    const config = sttConfig(fake, { stallTimeoutMs: 600 });
    const events = await collect(createYandexAsr(config, { credentials: CREDENTIALS }), frames(pcm, rate, 5), rate);
    assert.equal(fake.stats.totalStreams, 2);
    assert.deepEqual(finals(events), ['utterance 1', 'utterance 2']);
    await until(() => fake.stats.openStreams === 0);
  } finally {
    await fake.close();
  }
});

test('refused credentials fail the call with asr_auth after one error log line, without retrying', async () => {
  const fake = await startFakeYandexStt({ apiKey: 'the-right-key' });
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  try {
    const rate = 8000;
    const asr = createYandexAsr(sttConfig(fake), { credentials: { ...CREDENTIALS, apiKey: 'wrong-secret-key' } });
    await assert.rejects(
      collect(asr, frames(await conversation(['ru-wait'], rate), rate, 5), rate, { log: createLogger('info', sink) }),
      (err: unknown) => err instanceof VoicebotError && err.code === 'asr_auth' && !err.retryable,
    );
    assert.equal(fake.stats.totalStreams, 1);
    const errors = lines.map((l) => JSON.parse(l) as { level: number }).filter((l) => l.level >= 50);
    assert.equal(errors.length, 1);
    assert.ok(!lines.join('').includes('wrong-secret-key'), 'the key is never logged');
  } finally {
    await fake.close();
  }
});

test('PERMISSION_DENIED is an auth failure too', async () => {
  const fake = await startFakeYandexStt({ refuse: grpc.status.PERMISSION_DENIED });
  try {
    const rate = 8000;
    await assert.rejects(
      collect(createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS }), frames(await conversation(['ru-wait'], rate), rate, 5), rate),
      (err: unknown) => err instanceof VoicebotError && err.code === 'asr_auth',
    );
  } finally {
    await fake.close();
  }
});

test('an unreachable service fails with asr_unavailable after the bounded reconnect attempts', async () => {
  const fake = await startFakeYandexStt();
  const endpoint = fake.endpoint;
  await fake.close();
  const rate = 8000;
  const config = { ...sttConfig(fake), endpoint, reconnect: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } };
  async function* endless(): AsyncGenerator<Buffer> {
    for (;;) {
      await sleep(20);
      yield Buffer.alloc(320);
    }
  }
  const started = performance.now();
  await assert.rejects(
    collect(createYandexAsr(config, { credentials: CREDENTIALS }), endless(), rate),
    (err: unknown) => err instanceof VoicebotError && err.code === 'asr_unavailable' && err.retryable,
  );
  assert.ok(performance.now() - started < 10_000);
});

test('a rejected stream (invalid argument) fails with asr_failed', async () => {
  const fake = await startFakeYandexStt({ refuse: grpc.status.INVALID_ARGUMENT });
  try {
    await assert.rejects(
      collect(createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS }), frames(silence(200, 8000), 8000, 5), 8000),
      (err: unknown) => err instanceof VoicebotError && err.code === 'asr_failed',
    );
  } finally {
    await fake.close();
  }
});

test('an unsupported sample rate is a clear error before any stream opens', async () => {
  const fake = await startFakeYandexStt();
  try {
    await assert.rejects(
      collect(createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS }), frames(silence(100, 11025), 11025), 11025),
      (err: unknown) => err instanceof VoicebotError && err.code === 'asr_failed' && /11025/.test(err.message),
    );
    assert.equal(fake.stats.totalStreams, 0);
  } finally {
    await fake.close();
  }
});

test('no stream stays open after the call ends: abort, audio end, or the consumer stopping early', async () => {
  const fake = await startFakeYandexStt();
  try {
    const rate = 8000;
    const asr = createYandexAsr(sttConfig(fake), { credentials: CREDENTIALS });
    const pcm = await conversation(['ru-order', 'ru-order', 'ru-order'], rate);

    const controller = new AbortController();
    const aborted = (async () => {
      for await (const event of asr.transcribe(frames(pcm, rate, 5), { sampleRate: rate, signal: controller.signal, log: silentLogger() })) {
        if (event.type === 'partial') controller.abort();
      }
    })();
    await aborted;
    await collect(asr, frames(await conversation(['ru-wait'], rate), rate), rate);
    for await (const event of asr.transcribe(frames(pcm, rate, 5), { sampleRate: rate, signal: new AbortController().signal, log: silentLogger() })) {
      if (event.type === 'final') break;
    }
    assert.equal(fake.stats.totalStreams, 3);
    await until(() => fake.stats.openStreams === 0);
  } finally {
    await fake.close();
  }
});

test('100 concurrent calls share one channel and all get their finals', async () => {
  const fake = await startFakeYandexStt();
  try {
    const rate = 8000;
    const pcm = await conversation(['ru-wait'], rate);
    // Real-time frames, as calls send them; a generous end grace for a loaded test runner.
    const asr = createYandexAsr(sttConfig(fake, { endGraceMs: 10_000 }), { credentials: CREDENTIALS });
    const results = await Promise.all(Array.from({ length: 100 }, () => collect(asr, frames(pcm, rate, 20), rate)));
    // A stalled runner can make the silence filler split an utterance: count calls, not finals.
    for (const events of results) assert.ok(finals(events).length >= 1, 'a call got no final');
    await until(() => fake.stats.openStreams === 0);
  } finally {
    await fake.close();
  }
});
