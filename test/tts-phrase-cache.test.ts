import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { createPhraseCache } from '../src/tts/phrase-cache.js';
import type { Tts } from '../src/tts/tts.js';
import { captureLog, WARN } from './support/log-capture.js';

const log = silentLogger();

function countingTts(options: { delayMs?: number; failTimes?: number } = {}) {
  const calls: string[] = [];
  let failures = options.failTimes ?? 0;
  const tts: Tts = {
    async *synthesize(text, { sampleRate, signal }) {
      calls.push(`${sampleRate}:${text}`);
      await sleep(options.delayMs ?? 10, undefined, { signal });
      if (failures > 0) {
        failures--;
        throw new VoicebotError('tts_unavailable', 'provider down');
      }
      yield Buffer.from(`${text}@${sampleRate}|`);
      yield Buffer.from('tail');
    },
  };
  return { tts, calls };
}

test('concurrent gets of the same phrase share one synthesis', async () => {
  const { tts, calls } = countingTts({ delayMs: 30 });
  const cache = createPhraseCache(tts, { log });
  const results = await Promise.all([cache.get('Здравствуйте', 8000), cache.get('Здравствуйте', 8000), cache.get('Здравствуйте', 8000)]);
  assert.deepEqual(calls, ['8000:Здравствуйте']);
  for (const pcm of results) assert.equal(pcm.toString(), 'Здравствуйте@8000|tail');
  assert.equal((await cache.get('Здравствуйте', 8000)).toString(), 'Здравствуйте@8000|tail');
  assert.equal(calls.length, 1, 'a cached phrase is not synthesized again');
});

test('each rate is synthesized and cached separately', async () => {
  const { tts, calls } = countingTts();
  const cache = createPhraseCache(tts, { log });
  await cache.warm(['Привет', 'Минуту'], [8000, 16000]);
  assert.deepEqual([...calls].sort(), ['16000:Минуту', '16000:Привет', '8000:Минуту', '8000:Привет']);
  assert.equal((await cache.get('Привет', 16000)).toString(), 'Привет@16000|tail');
  assert.equal(calls.length, 4);
});

test('failures are not cached: the next get tries again', async () => {
  const { tts, calls } = countingTts({ failTimes: 1 });
  const cache = createPhraseCache(tts, { log });
  await assert.rejects(cache.get('Ошибка', 8000), (err: unknown) => err instanceof VoicebotError && err.code === 'tts_unavailable');
  assert.equal((await cache.get('Ошибка', 8000)).toString(), 'Ошибка@8000|tail');
  assert.equal(calls.length, 2);
});

test('warm logs failures instead of throwing', async () => {
  const { tts, calls } = countingTts({ failTimes: 10 });
  const capture = captureLog();
  const cache = createPhraseCache(tts, { log: capture.log });
  await assert.doesNotReject(cache.warm(['a', 'b', 'c'], [8000]));
  assert.equal(calls.length, 3);
  const warnings = capture.records.filter((r) => Number(r.level) >= WARN);
  assert.equal(warnings.length, 1, 'one warning for all the failures');
  assert.deepEqual([warnings[0]!.failed, warnings[0]!.total, warnings[0]!.code], [3, 3, 'tts_unavailable']);
});

test("one caller's abort does not cancel the shared synthesis for the others", async () => {
  const { tts, calls } = countingTts({ delayMs: 40 });
  const cache = createPhraseCache(tts, { log });
  const controller = new AbortController();
  const abandoned = cache.get('Общая фраза', 8000, controller.signal);
  const kept = cache.get('Общая фраза', 8000);
  controller.abort();
  await assert.rejects(abandoned, (err: unknown) => (err as Error).name === 'AbortError');
  assert.equal((await kept).toString(), 'Общая фраза@8000|tail');
  assert.equal(calls.length, 1);
});

test('a provider that hangs is given up after the timeout and not cached', async () => {
  const hanging: Tts = {
    async *synthesize(_text, { signal }) {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  };
  const cache = createPhraseCache(hanging, { log, timeoutMs: 50 });
  await assert.rejects(cache.get('Тишина', 8000), (err: unknown) => err instanceof VoicebotError && err.code === 'tts_unavailable');
});
