import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { dbfs } from '../src/audio/frames.js';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { createLocalTts } from '../src/tts/local.js';
import type { Tts } from '../src/tts/tts.js';

const log = silentLogger();
const ru = createLocalTts({ voice: 'ru', rate: 175, workers: 2 }, { log });
const en = createLocalTts({ voice: 'en-us', rate: 175, workers: 1 }, { log });

after(async () => {
  await ru.close();
  await en.close();
});

async function collect(tts: Tts, text: string, sampleRate: number, signal = new AbortController().signal): Promise<{ pcm: Buffer; pieces: number }> {
  const parts: Buffer[] = [];
  for await (const pcm of tts.synthesize(text, { sampleRate, signal })) parts.push(pcm);
  return { pcm: Buffer.concat(parts), pieces: parts.length };
}

const cases = [
  { name: 'ru', tts: ru, text: 'Здравствуйте! Чем могу помочь?' },
  { name: 'en', tts: en, text: 'Hello, how can I help you today?' },
];

for (const { name, tts, text } of cases) {
  for (const rate of [8000, 16000]) {
    test(`the embedded voice speaks ${name} as non-silent PCM at ${rate} Hz`, async () => {
      const { pcm, pieces } = await collect(tts, text, rate);
      assert.equal(pcm.length % 2, 0);
      const seconds = pcm.length / 2 / rate;
      assert.ok(seconds > 0.8 && seconds < 5, `a short sentence lasts about two seconds, got ${seconds.toFixed(2)} s`);
      assert.ok(dbfs(pcm) > -35, `speech is audible, got ${dbfs(pcm).toFixed(1)} dBFS`);
      assert.ok(pieces > 1, 'audio is streamed in pieces, not in one block');
    });
  }
}

test('the embedded voice streams its first audio before the sentence is finished', async () => {
  const long = 'Это длинное предложение. '.repeat(12);
  const started = performance.now();
  let firstMs = 0;
  let bytes = 0;
  for await (const pcm of ru.synthesize(long, { sampleRate: 8000, signal: new AbortController().signal })) {
    if (bytes === 0) firstMs = performance.now() - started;
    bytes += pcm.length;
  }
  const totalMs = performance.now() - started;
  assert.ok(firstMs < totalMs, `first audio at ${firstMs.toFixed(0)} ms, all done at ${totalMs.toFixed(0)} ms`);
  assert.ok(bytes / 2 / 8000 > 10, 'twelve sentences last more than ten seconds');
});

test('aborting stops the embedded voice and later requests still work', async () => {
  const controller = new AbortController();
  let pieces = 0;
  for await (const _ of ru.synthesize('Раз два три четыре пять. '.repeat(20), { sampleRate: 8000, signal: controller.signal })) {
    pieces++;
    controller.abort();
  }
  assert.equal(pieces, 1);
  const { pcm } = await collect(ru, 'Ещё раз', 8000);
  assert.ok(pcm.length > 0);
});

test('concurrent requests are all served', async () => {
  const results = await Promise.all(['один', 'два', 'три', 'четыре'].map((word) => collect(ru, word, 16000)));
  for (const { pcm } of results) assert.ok(dbfs(pcm) > -35);
});

test('an unknown voice is a clear tts_failed error, not a crash', async () => {
  const bad = createLocalTts({ voice: 'no-such-voice', rate: 175, workers: 1 }, { log });
  try {
    await assert.rejects(collect(bad, 'привет', 8000), (err: unknown) => {
      assert.ok(err instanceof VoicebotError);
      assert.equal(err.code, 'tts_failed');
      assert.match(err.message, /no-such-voice/);
      return true;
    });
  } finally {
    await bad.close();
  }
});

test('empty text yields no audio', async () => {
  const { pcm } = await collect(ru, '   ', 8000);
  assert.equal(pcm.length, 0);
});
