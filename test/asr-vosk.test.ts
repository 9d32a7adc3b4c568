import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAsrConfig, type VoskConfig } from '../src/asr/config.js';
import { createVoskAsr } from '../src/asr/vosk.js';
import type { Asr, AsrEvent } from '../src/asr/asr.js';
import { EnvReader } from '../src/config/env-reader.js';
import { concatPcm, silence, toFrames } from '../src/audio/frames.js';
import { readWav } from '../src/audio/wav.js';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { startFakeVosk, type FakeVosk } from './fakes/vosk-server.js';

const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));

async function conversation(stems: string[], rate: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const stem of stems) parts.push((await readWav(`${AUDIO_DIR}${stem}-${rate / 1000}k.wav`)).pcm, silence(600, rate));
  return concatPcm(parts);
}

function voskConfig(fake: FakeVosk, overrides: Partial<VoskConfig> = {}): VoskConfig {
  return { ...readAsrConfig(new EnvReader({ VOSK_URL: fake.url })).vosk, endGraceMs: 2_000, ...overrides };
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

async function collect(asr: Asr, audio: AsyncIterable<Buffer>, rate: number, signal = new AbortController().signal): Promise<AsrEvent[]> {
  const events: AsrEvent[] = [];
  for await (const event of asr.transcribe(audio, { sampleRate: rate, signal, log: silentLogger() })) events.push(event);
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

test('vosk: a real recording gives partials, then a final followed by an eou per utterance', async () => {
  const texts = ['подождите одну секунду', 'wait stop one second'];
  const fake = await startFakeVosk({ finalText: (u) => texts[u.utterance] ?? '?' });
  try {
    const rate = 8000;
    const events = await collect(createVoskAsr(voskConfig(fake)), frames(await conversation(['ru-wait', 'en-wait'], rate), rate), rate);
    assert.deepEqual(finals(events), texts);
    assert.deepEqual(events.filter((e) => e.type !== 'partial').map((e) => e.type), ['final', 'eou', 'final', 'eou']);
    assert.ok(events[0]?.type === 'partial', 'a partial comes first');
  } finally {
    await fake.close();
  }
});

test('vosk: the config message carries the call rate and the stream ends with the exact eof text', async () => {
  const fake = await startFakeVosk();
  try {
    const rate = 16000;
    await collect(createVoskAsr(voskConfig(fake)), frames(await conversation(['en-wait'], rate), rate), rate);
    const connection = fake.connections[0]!;
    assert.equal(connection.texts[0], '{"config":{"sample_rate":16000}}');
    assert.equal(connection.texts.at(-1), '{"eof" : 1}');
    assert.equal(connection.end, 'eof');
    assert.equal(connection.bytes, toFrames(await conversation(['en-wait'], rate), rate).length * 640);
    await until(() => fake.stats.openConnections === 0);
  } finally {
    await fake.close();
  }
});

test('vosk: an empty result is not a final', async () => {
  const fake = await startFakeVosk();
  try {
    const events = await collect(createVoskAsr(voskConfig(fake)), frames(silence(1_000, 8000), 8000), 8000);
    assert.deepEqual(events, []);
    assert.equal(fake.connections[0]!.texts.at(-1), '{"eof" : 1}');
  } finally {
    await fake.close();
  }
});

test('vosk: a dropped connection reconnects, replays the unfinished utterance, and the call goes on', async () => {
  const fake = await startFakeVosk({ drop: { afterBytes: 16_000, times: 1 } });
  try {
    const rate = 8000;
    const events = await collect(createVoskAsr(voskConfig(fake)), frames(await conversation(['ru-order', 'en-wait'], rate), rate, 5), rate);
    assert.equal(fake.connections[0]!.end, 'dropped');
    assert.equal(fake.stats.totalConnections, 2);
    assert.deepEqual(finals(events), ['utterance 1', 'utterance 2']);
    // The new connection heard the cut utterance from its start: all the audio up to the drop again.
    assert.ok(fake.connections[1]!.bytes >= 16_000);
  } finally {
    await fake.close();
  }
});

test('vosk: after a drop the new connection gets exactly the audio no result covered, so every byte is heard once', async () => {
  const rate = 8000;
  const pcm = await conversation(['ru-wait', 'en-wait'], rate);
  // ru-wait and its pause last 2.36 s: drop half a second into en-wait, after ru-wait's result.
  const fake = await startFakeVosk({ recordAudio: true, drop: { afterBytes: 2_860 * 16, times: 1 } });
  try {
    const events = await collect(createVoskAsr(voskConfig(fake)), frames(pcm, rate, 5), rate);
    const [first, second] = fake.connections;
    assert.equal(first!.end, 'dropped');
    assert.deepEqual(first!.results, ['utterance 0']);
    assert.deepEqual(finals(events), ['utterance 0', 'utterance 2'], 'the cut utterance is recognized once, by the new connection');
    const heard = Buffer.concat([Buffer.concat(first!.audio).subarray(0, first!.resultBytes), ...second!.audio]);
    assert.ok(heard.equals(Buffer.concat(toFrames(pcm, rate))), 'every byte once, in order');
  } finally {
    await fake.close();
  }
});

test('vosk: a connection dropped after the audio ended still ends the utterance in progress with an eou', async () => {
  const rate = 8000;
  // The caller hangs up mid-sentence: partials, no final.
  const pcm = (await readWav(`${AUDIO_DIR}ru-order-8k.wav`)).pcm.subarray(0, 1_500 * 16);
  const fake = await startFakeVosk({ dropOnEof: true });
  try {
    const events = await collect(createVoskAsr(voskConfig(fake)), frames(pcm, rate), rate);
    assert.equal(fake.connections[0]!.end, 'eof');
    assert.ok(events.some((e) => e.type === 'partial'));
    assert.deepEqual(events.filter((e) => e.type !== 'partial'), [{ type: 'eou' }]);
    assert.equal(fake.stats.totalConnections, 1, 'no reconnect after the end of the audio');
  } finally {
    await fake.close();
  }
});

test('vosk: an answer that is not JSON is treated as a broken connection, not a crash', async () => {
  const fake = await startFakeVosk({ garbage: { times: 1 } });
  try {
    const rate = 8000;
    const events = await collect(createVoskAsr(voskConfig(fake)), frames(await conversation(['ru-wait'], rate), rate, 5), rate);
    assert.equal(fake.stats.totalConnections, 2);
    assert.equal(finals(events).length, 1);
  } finally {
    await fake.close();
  }
});

test('vosk: a server that stops answering is replaced after the stall timeout', async () => {
  const fake = await startFakeVosk({ hang: { afterBytes: 16_000 } });
  try {
    const rate = 8000;
    const config = voskConfig(fake, { stallTimeoutMs: 300 });
    const events = await collect(createVoskAsr(config), frames(await conversation(['ru-order', 'en-wait'], rate), rate, 5), rate);
    assert.equal(fake.stats.totalConnections, 2);
    assert.deepEqual(finals(events), ['utterance 1', 'utterance 2']);
    await until(() => fake.stats.openConnections === 0);
  } finally {
    await fake.close();
  }
});

test('vosk: an unreachable server fails with asr_unavailable after the bounded attempts', async () => {
  const fake = await startFakeVosk({ refuse: true });
  try {
    const config = voskConfig(fake, { reconnect: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } });
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        await sleep(20);
        yield Buffer.alloc(320);
      }
    }
    await assert.rejects(
      collect(createVoskAsr(config), endless(), 8000),
      (err: unknown) => err instanceof VoicebotError && err.code === 'asr_unavailable' && err.retryable,
    );
  } finally {
    await fake.close();
  }
});

test('vosk: aborting the call closes the connection', async () => {
  const fake = await startFakeVosk();
  try {
    const rate = 8000;
    const controller = new AbortController();
    const asr = createVoskAsr(voskConfig(fake));
    for await (const event of asr.transcribe(frames(await conversation(['ru-order'], rate), rate, 5), { sampleRate: rate, signal: controller.signal, log: silentLogger() })) {
      if (event.type === 'partial') controller.abort();
    }
    await until(() => fake.stats.openConnections === 0);
    assert.equal(fake.stats.totalConnections, 1);
  } finally {
    await fake.close();
  }
});
