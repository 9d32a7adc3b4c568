import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvReader } from '../src/config/env-reader.js';
import { dbfs } from '../src/audio/frames.js';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { loadConfig } from '../src/config.js';
import { readTtsConfig } from '../src/tts/config.js';
import { createTts } from '../src/tts/index.js';
import { closeSharedClients } from '../src/yandex/grpc.js';
import { fakeSpeechPcm, startFakeYandexTts } from './fakes/yandex-tts-server.js';
import { startFakeYandexTtsHttp } from './fakes/yandex-tts-http.js';

const log = silentLogger();
const noCreds = { apiKey: undefined, iamToken: undefined, folderId: undefined, tls: false };

function config(env: Record<string, string>) {
  const reader = new EnvReader(env);
  const tts = readTtsConfig(reader);
  reader.finish();
  return tts;
}

test('with no settings the embedded voice is used, with documented defaults', () => {
  const tts = config({});
  assert.equal(tts.provider, 'local');
  assert.equal(tts.concurrency, 2);
  assert.deepEqual(tts.local, { voice: 'ru', rate: 175, workers: 1 });
  assert.equal(tts.yandex.endpoint, 'tts.api.cloud.yandex.net:443');
  assert.equal(tts.yandex.httpUrl, 'https://tts.api.cloud.yandex.net/speech/v1/tts:synthesize');
  assert.equal(tts.yandex.voice, 'alena');
  assert.equal(tts.yandex.hedgeMs, 300);
});

test('bad TTS settings are all reported at once, each naming its variable', () => {
  assert.throws(
    () => config({ TTS_PROVIDER: 'acme', TTS_CONCURRENCY: '0', YANDEX_TTS_SPEED: 'fast', LOCAL_TTS_RATE: '5', YANDEX_TTS_HTTP_URL: 'ftp://x' }),
    (err: unknown) => {
      assert.ok(err instanceof VoicebotError);
      assert.equal(err.code, 'config_invalid');
      for (const name of ['TTS_PROVIDER', 'TTS_CONCURRENCY', 'YANDEX_TTS_SPEED', 'LOCAL_TTS_RATE', 'YANDEX_TTS_HTTP_URL']) assert.match(err.message, new RegExp(name));
      return true;
    },
  );
});

test('the yandex provider without credentials is a configuration error, reported with every other one at load', () => {
  assert.throws(() => createTts(config({ TTS_PROVIDER: 'yandex', YANDEX_API_KEY: 'k' }), noCreds, log), (err: unknown) => err instanceof VoicebotError && err.code === 'config_invalid' && /YANDEX_API_KEY/.test(err.message));
  assert.throws(
    () => loadConfig({ TTS_PROVIDER: 'yandex', ASR_PROVIDER: 'deepgram', TTS_CONCURRENCY: '0' }),
    (err: unknown) => {
      assert.ok(err instanceof VoicebotError && err.code === 'config_invalid');
      for (const name of ['TTS_PROVIDER', 'DEEPGRAM_API_KEY', 'TTS_CONCURRENCY']) assert.match(err.message, new RegExp(name));
      return true;
    },
  );
});

test('createTts builds a speaking embedded voice by default', async () => {
  const tts = createTts(config({}), noCreds, log);
  try {
    assert.equal(tts.name, 'local');
    await tts.warmUp();
    const parts: Buffer[] = [];
    for await (const pcm of tts.synthesize('Добрый день', { sampleRate: 8000, signal: new AbortController().signal })) parts.push(pcm);
    assert.ok(dbfs(Buffer.concat(parts)) > -35);
  } finally {
    await tts.close();
  }
});

test('createTts builds Yandex gRPC hedged with the HTTP fallback', async () => {
  const grpcFake = await startFakeYandexTts({ error: 'UNAVAILABLE' });
  const httpFake = await startFakeYandexTtsHttp();
  try {
    const tts = createTts(
      config({ TTS_PROVIDER: 'yandex', YANDEX_API_KEY: 'test-key', YANDEX_TTS_ENDPOINT: grpcFake.endpoint, YANDEX_TTS_HTTP_URL: httpFake.url, TTS_HEDGE_MS: '200' }),
      { ...noCreds, apiKey: 'k' },
      log,
    );
    assert.equal(tts.name, 'yandex');
    const parts: Buffer[] = [];
    for await (const pcm of tts.synthesize('через резерв', { sampleRate: 16000, signal: new AbortController().signal })) parts.push(pcm);
    assert.deepEqual(Buffer.concat(parts), fakeSpeechPcm('через резерв', 16000, httpFake.options));
    assert.equal(grpcFake.requests.length, 1);
    assert.equal(httpFake.requests[0]?.authorization, 'Api-Key k');
  } finally {
    closeSharedClients();
    await grpcFake.close();
    await httpFake.close();
  }
});
