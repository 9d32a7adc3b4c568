import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAsrConfig } from '../src/asr/config.js';
import { createAsr } from '../src/asr/index.js';
import { PendingAudio } from '../src/asr/pending-audio.js';
import { EnvReader } from '../src/config/env-reader.js';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { readYandexConfig } from '../src/yandex/config.js';
import { authMetadata, closeSharedClients, sharedClient } from '../src/yandex/grpc.js';
import { STT_PROTO, STT_SERVICE } from '../src/asr/yandex-stt-messages.js';

function read(env: Record<string, string>) {
  const reader = new EnvReader(env);
  const config = { asr: readAsrConfig(reader), yandex: readYandexConfig(reader) };
  reader.finish();
  return config;
}

test('defaults: no recognizer; Yandex general ru-RU on the public endpoint; Vosk on localhost', () => {
  const { asr, yandex } = read({});
  assert.equal(asr.provider, 'none');
  assert.equal(asr.yandex.endpoint, 'stt.api.cloud.yandex.net:443');
  assert.equal(asr.yandex.model, 'general');
  assert.equal(asr.yandex.language, 'ru-RU');
  assert.equal(asr.yandex.eouSensitivity, 'DEFAULT');
  assert.equal(asr.yandex.maxPauseMs, undefined);
  assert.ok(asr.yandex.maxSessionMs < 300_000 && asr.yandex.maxSessionBytes < 10 * 1024 * 1024);
  assert.equal(asr.vosk.url, 'ws://127.0.0.1:2700');
  assert.equal(yandex.tls, true);
});

test('yandex without a key or token is a config problem naming both variables', () => {
  assert.throws(() => read({ ASR_PROVIDER: 'yandex' }), (err: unknown) =>
    err instanceof VoicebotError && err.code === 'config_invalid' && /YANDEX_API_KEY/.test(err.message) && /YANDEX_IAM_TOKEN/.test(err.message));
  assert.equal(read({ ASR_PROVIDER: 'yandex', YANDEX_IAM_TOKEN: 't1' }).asr.provider, 'yandex');
});

test('bad values are reported together, each naming its variable', () => {
  assert.throws(
    () => read({ ASR_PROVIDER: 'deepgram', YANDEX_STT_EOU_SENSITIVITY: 'FAST', YANDEX_STT_MAX_PAUSE_MS: 'soon', VOSK_URL: 'http://x', YANDEX_STT_ENDPOINT: 'https://stt/' , YANDEX_API_KEY: 'a b' }),
    (err: unknown) => {
      const message = (err as Error).message;
      return ['ASR_PROVIDER', 'YANDEX_STT_EOU_SENSITIVITY', 'YANDEX_STT_MAX_PAUSE_MS', 'VOSK_URL', 'YANDEX_STT_ENDPOINT', 'YANDEX_API_KEY'].every((name) => message.includes(name));
    },
  );
});

test('both a key and a token is ambiguous and rejected', () => {
  assert.throws(() => read({ YANDEX_API_KEY: 'k', YANDEX_IAM_TOKEN: 't' }), /YANDEX_IAM_TOKEN/);
});

test('createAsr: none gives no recognizer, vosk and yandex give one, yandex without credentials refuses', () => {
  const log = silentLogger();
  const { asr, yandex } = read({});
  assert.equal(createAsr(asr, yandex, log), undefined);
  assert.equal(typeof createAsr({ ...asr, provider: 'vosk' }, yandex, log)?.transcribe, 'function');
  assert.equal(typeof createAsr({ ...asr, provider: 'yandex' }, { ...yandex, apiKey: 'k' }, log)?.transcribe, 'function');
  assert.throws(() => createAsr({ ...asr, provider: 'yandex' }, yandex, log), (err: unknown) => err instanceof VoicebotError && err.code === 'config_invalid');
});

test('auth metadata: Api-Key wins, Bearer for IAM tokens, x-folder-id when set', () => {
  assert.deepEqual(authMetadata({ apiKey: 'k', iamToken: undefined, folderId: undefined }).getMap(), { authorization: 'Api-Key k' });
  assert.deepEqual(authMetadata({ apiKey: undefined, iamToken: 't', folderId: 'f' }).getMap(), { authorization: 'Bearer t', 'x-folder-id': 'f' });
});

test('one shared client per service, endpoint and TLS setting', () => {
  try {
    const a = sharedClient(STT_PROTO, STT_SERVICE, { endpoint: '127.0.0.1:1', tls: false });
    assert.equal(sharedClient(STT_PROTO, STT_SERVICE, { endpoint: '127.0.0.1:1', tls: false }), a);
    assert.notEqual(sharedClient(STT_PROTO, STT_SERVICE, { endpoint: '127.0.0.1:1', tls: true }), a);
    assert.notEqual(sharedClient(STT_PROTO, STT_SERVICE, { endpoint: '127.0.0.1:2', tls: false }), a);
  } finally {
    closeSharedClients();
  }
});

test('pending audio drops finalized audio on a sample boundary and keeps the rest for replay', () => {
  const pending = new PendingAudio(8000);
  const frame = (fill: number) => Buffer.alloc(320, fill);
  pending.push({ kind: 'audio', data: frame(1) });
  pending.push({ kind: 'silence', ms: 100 });
  pending.push({ kind: 'audio', data: frame(2) });
  assert.equal(pending.durationMs, 140);
  pending.finalizeTo(10);
  assert.equal(pending.durationMs, 130);
  pending.finalizeTo(70);
  const items = pending.replay();
  assert.deepEqual(items.map((i) => (i.kind === 'audio' ? i.data.length : i.ms)), [50, 320]);
  assert.equal(pending.baseMs, 0);
  pending.keepLast(10);
  assert.deepEqual(pending.replay().map((i) => (i.kind === 'audio' ? [...i.data.subarray(0, 1)] : i.ms)), [[2]]);
  assert.equal(pending.durationMs, 10);
});

test('deepgram config: defaults, a required key, bad values named, and the factory', () => {
  const { asr, yandex } = read({ ASR_PROVIDER: 'deepgram', DEEPGRAM_API_KEY: 'k1' });
  assert.equal(asr.provider, 'deepgram');
  assert.deepEqual(
    { url: asr.deepgram.url, model: asr.deepgram.model, language: asr.deepgram.language, endpointingMs: asr.deepgram.endpointingMs, utteranceEndMs: asr.deepgram.utteranceEndMs },
    { url: 'wss://api.deepgram.com', model: 'nova-2', language: 'ru', endpointingMs: 300, utteranceEndMs: 1_000 },
  );
  assert.equal(typeof createAsr(asr, yandex, silentLogger())?.transcribe, 'function');
  assert.throws(() => createAsr({ ...asr, deepgram: { ...asr.deepgram, apiKey: '' } }, yandex, silentLogger()), (err: unknown) => err instanceof VoicebotError && err.code === 'config_invalid');

  assert.throws(() => read({ ASR_PROVIDER: 'deepgram' }), (err: unknown) =>
    err instanceof VoicebotError && err.code === 'config_invalid' && /DEEPGRAM_API_KEY/.test(err.message));
  assert.throws(
    () => read({ ASR_PROVIDER: 'deepgram', DEEPGRAM_API_KEY: 'a b', DEEPGRAM_URL: 'https://api.deepgram.com', DEEPGRAM_ENDPOINTING_MS: 'soon', DEEPGRAM_UTTERANCE_END_MS: '500' }),
    (err: unknown) => {
      const message = (err as Error).message;
      return ['DEEPGRAM_API_KEY', 'DEEPGRAM_URL', 'DEEPGRAM_ENDPOINTING_MS', 'DEEPGRAM_UTTERANCE_END_MS'].every((name) => message.includes(name)) && !message.includes('a b');
    },
  );
  // Without ASR_PROVIDER=deepgram the key is not needed.
  assert.equal(read({}).asr.deepgram.apiKey, '');
});
