import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAsrConfig, type DeepgramConfig } from '../src/asr/config.js';
import { createDeepgramAsr, DEEPGRAM_CLOSE_STREAM, DEEPGRAM_KEEP_ALIVE } from '../src/asr/deepgram.js';
import type { Asr, AsrEvent } from '../src/asr/asr.js';
import { EnvReader } from '../src/config/env-reader.js';
import { concatPcm, silence, toFrames } from '../src/audio/frames.js';
import { readWav } from '../src/audio/wav.js';
import { VoicebotError } from '../src/errors.js';
import { createLogger, silentLogger, type Logger } from '../src/logger.js';
import { startFakeDeepgram, type FakeDeepgram } from './fakes/deepgram-server.js';

const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));

async function conversation(stems: string[], rate: number, gapMs = 600): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const stem of stems) parts.push((await readWav(`${AUDIO_DIR}${stem}-${rate / 1000}k.wav`)).pcm, silence(gapMs, rate));
  return concatPcm(parts);
}

function deepgramConfig(fake: FakeDeepgram, overrides: Partial<DeepgramConfig> = {}): DeepgramConfig {
  const env = { ASR_PROVIDER: 'deepgram', DEEPGRAM_URL: fake.url, DEEPGRAM_API_KEY: fake.apiKey };
  return { ...readAsrConfig(new EnvReader(env)).deepgram, endGraceMs: 2_000, ...overrides };
}

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

async function collect(asr: Asr, audio: AsyncIterable<Buffer>, rate: number, log: Logger = silentLogger(), signal = new AbortController().signal): Promise<AsrEvent[]> {
  const events: AsrEvent[] = [];
  for await (const event of asr.transcribe(audio, { sampleRate: rate, signal, log })) events.push(event);
  return events;
}

const finals = (events: AsrEvent[]): string[] => events.flatMap((e) => (e.type === 'final' ? [e.text] : []));
const partials = (events: AsrEvent[]): string[] => events.flatMap((e) => (e.type === 'partial' ? [e.text] : []));
const ends = (events: AsrEvent[]): string[] => events.filter((e) => e.type !== 'partial').map((e) => e.type);

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { log: createLogger('debug', sink), lines };
}

test('deepgram: a real recording gives growing partials, then one final and one eou per utterance', async () => {
  const texts = ['подождите одну секунду', 'wait stop one second'];
  const fake = await startFakeDeepgram({ finalText: (u) => texts[u.utterance] ?? '?' });
  try {
    const rate = 8000;
    const pcm = await conversation(['ru-wait', 'en-wait'], rate, 1_500);
    const events = await collect(createDeepgramAsr(deepgramConfig(fake)), frames(pcm, rate), rate);
    assert.deepEqual(finals(events), texts);
    // The fake sends both speech_final and a later UtteranceEnd: still one eou per utterance.
    assert.equal(fake.connections[0]!.sent.filter((m) => m.type === 'UtteranceEnd').length, 2);
    assert.deepEqual(ends(events), ['final', 'eou', 'final', 'eou']);
    assert.equal(events[0]?.type, 'partial');
    assert.ok(partials(events).includes('подождите одну'), 'interim transcripts grow word by word');
  } finally {
    await fake.close();
  }
});

test('deepgram: UtteranceEnd alone ends an utterance when the final is not speech_final', async () => {
  const fake = await startFakeDeepgram({ speechFinal: false });
  try {
    const rate = 16000;
    const pcm = await conversation(['ru-order', 'en-wait'], rate, 1_500);
    const events = await collect(createDeepgramAsr(deepgramConfig(fake)), frames(pcm, rate), rate);
    assert.deepEqual(finals(events), ['utterance 0', 'utterance 1']);
    assert.deepEqual(ends(events), ['final', 'eou', 'final', 'eou']);
  } finally {
    await fake.close();
  }
});

test('deepgram: partials that end in an empty final were noise: an eou alone, no final', async () => {
  const fake = await startFakeDeepgram({ finalText: (u) => (u.utterance === 0 ? '' : 'wait stop one second') });
  try {
    const rate = 8000;
    const events = await collect(createDeepgramAsr(deepgramConfig(fake)), frames(await conversation(['ru-wait', 'en-wait'], rate), rate), rate);
    assert.deepEqual(ends(events), ['eou', 'final', 'eou']);
    assert.deepEqual(events[0], { type: 'partial', text: 'mm' });
    assert.deepEqual(finals(events), ['wait stop one second']);
  } finally {
    await fake.close();
  }
});

test('deepgram: a server that stops sending is replaced after the stall timeout, and the call goes on', async () => {
  const fake = await startFakeDeepgram({ hang: { afterMs: 1_000 }, idleResultEveryMs: 400 });
  try {
    const rate = 8000;
    const config = deepgramConfig(fake, { stallTimeoutMs: 300 });
    const events = await collect(createDeepgramAsr(config), frames(await conversation(['ru-order', 'en-wait'], rate), rate, 5), rate);
    assert.equal(fake.stats.totalConnections, 2);
    assert.deepEqual(finals(events), ['utterance 1', 'utterance 2']);
    await until(() => fake.stats.openConnections === 0);
  } finally {
    await fake.close();
  }
});

test('deepgram: the query carries the call rate and settings, the key goes in the Authorization header, the stream ends with CloseStream', async () => {
  const fake = await startFakeDeepgram();
  try {
    const rate = 16000;
    const pcm = await conversation(['en-wait'], rate);
    await collect(createDeepgramAsr(deepgramConfig(fake)), frames(pcm, rate), rate);
    const connection = fake.connections[0]!;
    assert.deepEqual(connection.query, {
      encoding: 'linear16', sample_rate: '16000', channels: '1', interim_results: 'true', endpointing: '300',
      utterance_end_ms: '1000', vad_events: 'true', model: 'nova-2', language: 'ru', smart_format: 'true',
    });
    assert.equal(connection.authorization, 'Token test-key');
    assert.equal(connection.texts.at(-1), DEEPGRAM_CLOSE_STREAM);
    assert.equal(connection.end, 'close-stream');
    assert.equal(connection.bytes, toFrames(pcm, rate).length * 640);
    await until(() => fake.stats.openConnections === 0);
  } finally {
    await fake.close();
  }
});

test('deepgram: a dropped connection reconnects, replays the unfinished utterance, and the call goes on', async () => {
  const fake = await startFakeDeepgram({ drop: { afterMs: 1_000, times: 1 } });
  try {
    const rate = 8000;
    const { log, lines } = capturingLogger();
    const events = await collect(createDeepgramAsr(deepgramConfig(fake)), frames(await conversation(['ru-order', 'en-wait'], rate), rate, 5), rate, log);
    assert.equal(fake.connections[0]!.end, 'dropped');
    assert.equal(fake.stats.totalConnections, 2);
    assert.deepEqual(finals(events), ['utterance 1', 'utterance 2']);
    assert.deepEqual(ends(events), ['final', 'eou', 'final', 'eou']);
    // The new connection heard the cut utterance again, from before the drop.
    assert.ok(fake.connections[1]!.bytes >= 8_000, `${fake.connections[1]!.bytes} bytes replayed`);
    assert.ok(lines.some((line) => line.includes('reconnecting')), 'the drop is logged');
    assert.ok(lines.every((line) => !line.includes(fake.apiKey)), 'the key is never logged');
  } finally {
    await fake.close();
  }
});

test('deepgram: a connection dropped after a final and before its UtteranceEnd gives the eou at once', async () => {
  const rate = 8000;
  // 0.8 s of tone, then quiet: the final comes 300 ms after the tone, UtteranceEnd would come 1 s after that.
  const tone = Buffer.alloc(800 * 16);
  for (let i = 0; i < tone.length / 2; i++) tone.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  const pcm = concatPcm([tone, silence(2_500, rate)]);
  const fake = await startFakeDeepgram({ speechFinal: false, drop: { afterMs: 1_500, times: 1 } });
  try {
    let audioEnded = false;
    async function* audio(): AsyncGenerator<Buffer> {
      yield* frames(pcm, rate, 10);
      audioEnded = true;
    }
    const ends: { type: string; audioEnded: boolean }[] = [];
    for await (const event of createDeepgramAsr(deepgramConfig(fake)).transcribe(audio(), { sampleRate: rate, signal: new AbortController().signal, log: silentLogger() })) {
      if (event.type !== 'partial') ends.push({ type: event.type, audioEnded });
    }
    assert.equal(fake.connections[0]!.end, 'dropped');
    assert.equal(fake.connections[0]!.sent.filter((m) => m.type === 'UtteranceEnd').length, 0);
    assert.deepEqual(ends, [{ type: 'final', audioEnded: false }, { type: 'eou', audioEnded: false }]);
  } finally {
    await fake.close();
  }
});

test('deepgram: a refused key fails at once with asr_auth after one clear log line, and the key is not logged', async () => {
  const fake = await startFakeDeepgram({ apiKey: 'right-key' });
  try {
    const { log, lines } = capturingLogger();
    const config = deepgramConfig(fake, { apiKey: 'wrong-secret-key' });
    await assert.rejects(
      collect(createDeepgramAsr(config), frames(silence(2_000, 8000), 8000, 5), 8000, log),
      (err: unknown) => err instanceof VoicebotError && err.code === 'asr_auth' && !err.retryable,
    );
    assert.equal(fake.stats.refusedUpgrades, 1, 'no retries with a refused key');
    assert.equal(fake.stats.totalConnections, 0);
    const errors = lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /DEEPGRAM_API_KEY/);
    assert.ok(lines.every((line) => !line.includes('wrong-secret-key')), 'the key is never logged');
  } finally {
    await fake.close();
  }
});

test('deepgram: an unreachable server fails with asr_unavailable after the bounded attempts', async () => {
  const fake = await startFakeDeepgram();
  await fake.close();
  const config = deepgramConfig(fake, { reconnect: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } });
  async function* endless(): AsyncGenerator<Buffer> {
    for (;;) {
      await sleep(20);
      yield Buffer.alloc(320);
    }
  }
  await assert.rejects(
    collect(createDeepgramAsr(config), endless(), 8000),
    (err: unknown) => err instanceof VoicebotError && err.code === 'asr_unavailable' && err.retryable,
  );
});

test('deepgram: a quiet line gets KeepAlive messages instead of endless silence', async () => {
  const fake = await startFakeDeepgram();
  try {
    const rate = 8000;
    async function* fewFramesThenQuiet(): AsyncGenerator<Buffer> {
      yield* frames(silence(100, rate), rate);
      await sleep(900);
    }
    const config = deepgramConfig(fake, { endpointingMs: 100, utteranceEndMs: 200, keepAliveMs: 150 });
    await collect(createDeepgramAsr(config), fewFramesThenQuiet(), rate);
    const connection = fake.connections[0]!;
    assert.ok(connection.texts.filter((t) => t === DEEPGRAM_KEEP_ALIVE).length >= 2, 'keep-alives sent');
    // Silence is filled only until the utterance could have ended: well under the 1 s of quiet.
    assert.ok(connection.bytes < 800 * 2 * (rate / 1000) * 0.8, `${connection.bytes} bytes sent`);
    assert.equal(connection.texts.at(-1), DEEPGRAM_CLOSE_STREAM);
  } finally {
    await fake.close();
  }
});

test('deepgram: aborting the call closes the connection', async () => {
  const fake = await startFakeDeepgram();
  try {
    const rate = 8000;
    const controller = new AbortController();
    const asr = createDeepgramAsr(deepgramConfig(fake));
    for await (const event of asr.transcribe(frames(await conversation(['ru-order'], rate), rate, 5), { sampleRate: rate, signal: controller.signal, log: silentLogger() })) {
      if (event.type === 'partial') controller.abort();
    }
    await until(() => fake.stats.openConnections === 0);
    assert.equal(fake.stats.totalConnections, 1);
    assert.equal(fake.connections[0]!.end, 'client-close');
  } finally {
    await fake.close();
  }
});

test('deepgram: a consumer that stops reading closes the connection too', async () => {
  const fake = await startFakeDeepgram();
  try {
    const rate = 8000;
    const asr = createDeepgramAsr(deepgramConfig(fake));
    for await (const event of asr.transcribe(frames(await conversation(['ru-order'], rate), rate, 5), { sampleRate: rate, signal: new AbortController().signal, log: silentLogger() })) {
      if (event.type === 'partial') break;
    }
    await until(() => fake.stats.openConnections === 0);
    assert.equal(fake.stats.totalConnections, 1);
  } finally {
    await fake.close();
  }
});
