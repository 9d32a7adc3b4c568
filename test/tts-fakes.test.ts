import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../src/logger.js';
import { measurePcmTone } from '../src/sim/tone.js';
import { createYandexGrpcTts } from '../src/tts/yandex-grpc.js';
import { closeSharedClients } from '../src/yandex/grpc.js';
import { startFakeYandexTtsHttp, type FakeYandexTtsHttp } from './fakes/yandex-tts-http.js';
import { expectedSpeechMs, startFakeYandexTts, type FakeYandexTts } from './fakes/yandex-tts-server.js';

const text = 'Добрый день, слушаю вас';

function assertSpeech(pcm: Buffer, rate: number, hz: number, ms: number): void {
  assert.equal(pcm.length, Math.round((ms * rate) / 1000) * 2, 'exactly msPerChar per character at the requested rate');
  const heard = measurePcmTone(pcm, rate);
  assert.ok(heard.toneHz !== undefined && Math.abs(heard.toneHz - hz) < hz * 0.005, `tone ${heard.toneHz} Hz, expected ${hz}`);
  assert.ok(Math.abs(heard.soundMs - ms) <= 1, `sound ${heard.soundMs} ms, expected ${ms}`);
}

describe('TTS fakes synthesize their tone at exactly the requested rate', { concurrency: true }, () => {
  let grpcFake: FakeYandexTts;
  let httpFake: FakeYandexTtsHttp;
  before(async () => {
    grpcFake = await startFakeYandexTts({ toneHz: 440, msPerChar: 45 });
    httpFake = await startFakeYandexTtsHttp({ toneHz: 880, msPerChar: 35, oddWrites: true });
  });
  after(async () => {
    closeSharedClients();
    await Promise.all([grpcFake.close(), httpFake.close()]);
  });

  for (const rate of [8000, 16000]) {
    test(`gRPC at ${rate} Hz`, async () => {
      const config = { endpoint: grpcFake.endpoint, httpUrl: httpFake.url, voice: 'alena', role: undefined, speed: 1, model: undefined, lang: 'ru-RU', hedgeMs: 300, timeoutMs: 60_000, httpKeepWarmMs: 0 };
      const tts = createYandexGrpcTts(config, { apiKey: 'k', iamToken: undefined, folderId: undefined, tls: false }, { log: silentLogger() });
      const parts: Buffer[] = [];
      for await (const pcm of tts.synthesize(text, { sampleRate: rate, signal: new AbortController().signal })) parts.push(pcm);
      assert.equal(grpcFake.requests.find((r) => r.sampleRate === rate)?.text, text);
      assertSpeech(Buffer.concat(parts), rate, 440, expectedSpeechMs(text, 45));
    });

    test(`HTTP at ${rate} Hz`, async () => {
      const body = new URLSearchParams({ text, lang: 'ru-RU', voice: 'alena', format: 'lpcm', sampleRateHertz: String(rate) });
      const res = await fetch(httpFake.url, { method: 'POST', body });
      assert.equal(res.status, 200);
      assertSpeech(Buffer.from(await res.arrayBuffer()), rate, 880, expectedSpeechMs(text, 35));
    });
  }

  test('HTTP without sampleRateHertz answers at 48 kHz, as API v1 does', async () => {
    const res = await fetch(httpFake.url, { method: 'POST', body: new URLSearchParams({ text: 'да', format: 'lpcm' }) });
    assertSpeech(Buffer.from(await res.arrayBuffer()), 48000, 880, expectedSpeechMs('да', 35));
  });
});
