import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '../src/logger.js';
import type { Observer } from '../src/metrics/observer.js';
import { noopObserver } from '../src/metrics/observer.js';
import { VoicebotError } from '../src/errors.js';
import type { YandexTtsConfig } from '../src/tts/config.js';
import { createHedgedTts } from '../src/tts/hedged.js';
import type { Tts } from '../src/tts/tts.js';
import { createYandexGrpcTts } from '../src/tts/yandex-grpc.js';
import { createYandexHttpTts } from '../src/tts/yandex-http.js';
import { closeSharedClients } from '../src/yandex/grpc.js';
import { fakeSpeechPcm, startFakeYandexTts, type FakeYandexTts } from './fakes/yandex-tts-server.js';
import { startFakeYandexTtsHttp, type FakeYandexTtsHttp } from './fakes/yandex-tts-http.js';
import { waitFor } from './support/wait-for.js';

const log = silentLogger();
const creds = { apiKey: 'test-key', iamToken: undefined, folderId: 'folder-1', tls: false };

let grpcFake: FakeYandexTts;
let httpFake: FakeYandexTtsHttp;

before(async () => {
  grpcFake = await startFakeYandexTts();
  httpFake = await startFakeYandexTtsHttp();
});

after(async () => {
  closeSharedClients();
  await grpcFake.close();
  await httpFake.close();
});

function ttsConfig(overrides: Partial<YandexTtsConfig> = {}): YandexTtsConfig {
  return {
    endpoint: grpcFake.endpoint,
    httpUrl: httpFake.url,
    voice: 'alena',
    role: 'good',
    speed: 1.1,
    model: undefined,
    lang: 'ru-RU',
    hedgeMs: 300,
    timeoutMs: 5000,
    httpKeepWarmMs: 0,
    ...overrides,
  };
}

function resetFakes(): void {
  Object.assign(grpcFake.options, { firstChunkDelayMs: 0, error: undefined, hang: false, failAfterChunks: undefined, chunkIntervalMs: 0 });
  Object.assign(httpFake.options, { firstChunkDelayMs: 0, errorStatus: undefined, hang: false, oddWrites: false, chunkIntervalMs: 0 });
  grpcFake.requests.length = 0;
  httpFake.requests.length = 0;
}

async function collect(tts: Tts, text: string, sampleRate: number, signal = new AbortController().signal): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const pcm of tts.synthesize(text, { sampleRate, signal })) parts.push(pcm);
  return Buffer.concat(parts);
}

function recordingObserver(): Observer & { events: string[] } {
  const events: string[] = [];
  return {
    ...noopObserver,
    events,
    fallback: (p) => events.push(`fallback:${p}`),
    hedge: (p, w) => events.push(`hedge:${p}:${w}`),
    providerError: (p, c) => events.push(`error:${p}:${c}`),
  };
}

for (const rate of [8000, 16000]) {
  test(`gRPC synthesis streams raw PCM at ${rate} Hz with voice, role, speed and auth`, async () => {
    resetFakes();
    const tts = createYandexGrpcTts(ttsConfig(), creds, { log });
    const text = 'Здравствуйте, чем могу помочь?';
    const pcm = await collect(tts, text, rate);
    assert.deepEqual(pcm, fakeSpeechPcm(text, rate, grpcFake.options));
    const [req] = grpcFake.requests;
    assert.ok(req);
    assert.equal(req.text, text);
    assert.equal(req.encoding, 'LINEAR16_PCM');
    assert.equal(req.sampleRate, rate);
    assert.deepEqual(req.hints, [{ voice: 'alena' }, { role: 'good' }, { speed: 1.1 }]);
    assert.equal(req.authorization, 'Api-Key test-key');
    assert.equal(req.folderId, 'folder-1');
    assert.equal(req.unsafeMode, false);
  });
}

test('gRPC refusal of credentials surfaces as tts_auth', async () => {
  resetFakes();
  grpcFake.options.error = 'UNAUTHENTICATED';
  const observer = recordingObserver();
  const tts = createYandexGrpcTts(ttsConfig(), { ...creds, apiKey: undefined, iamToken: 'iam-token' }, { log, observer });
  await assert.rejects(collect(tts, 'привет', 8000), (err: unknown) => err instanceof VoicebotError && err.code === 'tts_auth');
  assert.equal(grpcFake.requests[0]?.authorization, 'Bearer iam-token');
  assert.deepEqual(observer.events, ['error:yandex-tts-grpc:tts_auth']);
});

test('aborting a gRPC synthesis cancels the call on the server', async () => {
  resetFakes();
  grpcFake.options.chunkIntervalMs = 50;
  const tts = createYandexGrpcTts(ttsConfig(), creds, { log });
  const controller = new AbortController();
  let chunks = 0;
  for await (const _ of tts.synthesize('a long sentence to speak slowly', { sampleRate: 8000, signal: controller.signal })) {
    chunks++;
    controller.abort();
  }
  assert.equal(chunks, 1);
  await waitFor(() => grpcFake.requests[0]?.cancelled === true && grpcFake.active() === 0);
});

test('HTTP v1 synthesis posts the form and streams aligned PCM', async () => {
  resetFakes();
  httpFake.options.oddWrites = true;
  const tts = createYandexHttpTts(ttsConfig({ role: undefined, speed: 1 }), { ...creds, apiKey: undefined, iamToken: 'iam-token' }, { log });
  const text = 'Добрый день';
  const pcm = await collect(tts, text, 8000);
  assert.deepEqual(pcm, fakeSpeechPcm(text, 8000, httpFake.options));
  const [req] = httpFake.requests;
  assert.deepEqual(req?.form, { text, lang: 'ru-RU', voice: 'alena', speed: '1', format: 'lpcm', sampleRateHertz: '8000', folderId: 'folder-1' });
  assert.equal(req?.authorization, 'Bearer iam-token');
});

test('HTTP v1 at a rate it does not offer is requested higher and resampled', async () => {
  resetFakes();
  const tts = createYandexHttpTts(ttsConfig(), creds, { log });
  const pcm = await collect(tts, 'двенадцать', 24000);
  assert.equal(httpFake.requests[0]?.form.sampleRateHertz, '48000');
  assert.equal(httpFake.requests[0]?.form.emotion, 'good');
  const expectedSamples = fakeSpeechPcm('двенадцать', 24000, httpFake.options).length / 2;
  assert.ok(Math.abs(pcm.length / 2 - expectedSamples) < 100, `got ${pcm.length / 2} samples, expected about ${expectedSamples}`);
});

test('a v3-only role is not sent to the v1 method', async () => {
  resetFakes();
  const tts = createYandexHttpTts(ttsConfig({ role: 'friendly' }), creds, { log });
  await collect(tts, 'привет', 8000);
  assert.equal(httpFake.requests[0]?.form.emotion, undefined);
});

test('HTTP v1 error answers become VoicebotErrors carrying the service message, not the key', async () => {
  resetFakes();
  httpFake.options.errorStatus = 400;
  const tts = createYandexHttpTts(ttsConfig(), creds, { log });
  await assert.rejects(collect(tts, 'текст', 8000), (err: unknown) => {
    assert.ok(err instanceof VoicebotError);
    assert.equal(err.code, 'tts_failed');
    assert.match(err.message, /fake error 400/);
    assert.doesNotMatch(err.message, /test-key/);
    return true;
  });
  httpFake.options.errorStatus = 401;
  await assert.rejects(collect(tts, 'текст', 8000), (err: unknown) => err instanceof VoicebotError && err.code === 'tts_auth');
});

test('an unreachable HTTP endpoint is a clear tts_unavailable error', async () => {
  const tts = createYandexHttpTts(ttsConfig({ httpUrl: 'http://127.0.0.1:1/speech/v1/tts:synthesize' }), creds, { log });
  await assert.rejects(collect(tts, 'текст', 8000), (err: unknown) => err instanceof VoicebotError && err.code === 'tts_unavailable');
});

test('when gRPC is down the hedged synthesizer plays the HTTP fallback', async () => {
  resetFakes();
  grpcFake.options.error = 'UNAVAILABLE';
  const observer = recordingObserver();
  const config = ttsConfig();
  const tts = createHedgedTts(createYandexGrpcTts(config, creds, { log }), createYandexHttpTts(config, creds, { log }), { hedgeMs: 10_000, log, observer });
  const pcm = await collect(tts, 'резервный голос', 16000);
  assert.deepEqual(pcm, fakeSpeechPcm('резервный голос', 16000, httpFake.options));
  assert.equal(grpcFake.requests.length, 1);
  assert.ok(observer.events.includes('fallback:tts'));
});

test('when gRPC hangs past the hedge delay, HTTP audio wins alone and the gRPC call is cancelled', async () => {
  resetFakes();
  grpcFake.options.hang = true;
  const observer = recordingObserver();
  const config = ttsConfig();
  const tts = createHedgedTts(createYandexGrpcTts(config, creds, { log }), createYandexHttpTts(config, creds, { log }), { hedgeMs: 100, log, observer });
  const started = performance.now();
  const pcm = await collect(tts, 'ожидание ответа', 8000);
  const elapsed = performance.now() - started;
  assert.deepEqual(pcm, fakeSpeechPcm('ожидание ответа', 8000, httpFake.options), 'only the fallback audio, nothing mixed in');
  assert.ok(elapsed >= 90, `fallback started before the hedge delay (${elapsed} ms)`);
  assert.deepEqual(observer.events, ['hedge:tts:fallback']);
  await waitFor(() => grpcFake.requests[0]?.cancelled === true && grpcFake.active() === 0);
});

test('a primary that answers within the hedge delay is played without touching the fallback', async () => {
  resetFakes();
  grpcFake.options.firstChunkDelayMs = 20;
  const config = ttsConfig();
  const tts = createHedgedTts(createYandexGrpcTts(config, creds, { log }), createYandexHttpTts(config, creds, { log }), { hedgeMs: 10_000, log });
  const pcm = await collect(tts, 'быстрый ответ', 8000);
  assert.deepEqual(pcm, fakeSpeechPcm('быстрый ответ', 8000, grpcFake.options));
  assert.equal(httpFake.requests.length, 0);
});

test('once the primary has spoken, its later failure ends the chunk with an error and no fallback audio', async () => {
  resetFakes();
  grpcFake.options.failAfterChunks = 2;
  grpcFake.options.error = 'UNAVAILABLE';
  const config = ttsConfig();
  // A hedge delay no loaded machine reaches before the primary's first audio.
  const tts = createHedgedTts(createYandexGrpcTts(config, creds, { log }), createYandexHttpTts(config, creds, { log }), { hedgeMs: 10_000, log });
  const parts: Buffer[] = [];
  await assert.rejects(async () => {
    for await (const pcm of tts.synthesize('фраза, которая оборвётся на середине', { sampleRate: 8000, signal: new AbortController().signal })) parts.push(pcm);
  }, (err: unknown) => err instanceof VoicebotError && err.code === 'tts_unavailable');
  const expected = fakeSpeechPcm('фраза, которая оборвётся на середине', 8000, grpcFake.options);
  assert.deepEqual(Buffer.concat(parts), expected.subarray(0, Buffer.concat(parts).length));
  assert.equal(Buffer.concat(parts).length, 2 * 1600);
  assert.equal(httpFake.requests.length, 0);
});

test('when both sides fail before audio the error is reported, not swallowed', async () => {
  resetFakes();
  grpcFake.options.error = 'UNAVAILABLE';
  httpFake.options.errorStatus = 503;
  const config = ttsConfig();
  const tts = createHedgedTts(createYandexGrpcTts(config, creds, { log }), createYandexHttpTts(config, creds, { log }), { hedgeMs: 10_000, log });
  const started = performance.now();
  await assert.rejects(collect(tts, 'ничего', 8000), (err: unknown) => err instanceof VoicebotError && err.code === 'tts_unavailable');
  assert.ok(performance.now() - started < 7_000, 'the error does not wait for the hedge timer');
});

test('a gRPC call that never answers ends at the request timeout', async () => {
  resetFakes();
  grpcFake.options.hang = true;
  const tts = createYandexGrpcTts(ttsConfig({ timeoutMs: 200 }), creds, { log });
  await assert.rejects(collect(tts, 'тишина', 8000), (err: unknown) => err instanceof VoicebotError && err.code === 'tts_unavailable');
});

test('aborting a hedged synthesis cancels both sides', async () => {
  resetFakes();
  grpcFake.options.hang = true;
  httpFake.options.hang = true;
  const config = ttsConfig();
  const tts = createHedgedTts(createYandexGrpcTts(config, creds, { log }), createYandexHttpTts(config, creds, { log }), { hedgeMs: 30, log });
  const controller = new AbortController();
  void waitFor(() => grpcFake.requests.length > 0 && httpFake.requests.length > 0, 'both requests').then(() => controller.abort());
  const pcm = await collect(tts, 'тишина', 8000, controller.signal);
  assert.equal(pcm.length, 0);
  await waitFor(() => grpcFake.requests[0]?.cancelled === true && httpFake.requests[0]?.cancelled === true);
});
