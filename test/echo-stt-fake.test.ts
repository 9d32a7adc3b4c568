import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AsrEvent } from '../src/asr/asr.js';
import { readAsrConfig } from '../src/asr/config.js';
import { createYandexAsr } from '../src/asr/yandex.js';
import { isEchoOfBotWords } from '../src/call/echo-text.js';
import { EnvReader } from '../src/config/env-reader.js';
import { concatPcm, silence, toFrames } from '../src/audio/frames.js';
import { parseWav } from '../src/audio/wav.js';
import { silentLogger } from '../src/logger.js';
import { closeSharedClients } from '../src/yandex/grpc.js';
import { startFakeYandexStt, type FakeYandexStt } from './fakes/yandex-stt-server.js';
import { fakeSpeechPcm } from './fakes/yandex-tts-server.js';

const AUDIO_DIR = fileURLToPath(new URL('../../shared/audio/', import.meta.url));
const CREDENTIALS = { apiKey: 'test-key', iamToken: undefined, folderId: undefined, tls: false };
const BOT = ['Sure, let me look that up for you.', 'Your order ships tomorrow.'];
const CALLER = ['wait stop one second', 'yes the order number is one two three four'];

after(() => closeSharedClients());

async function wav(stem: string, rate: number): Promise<Buffer> {
  return parseWav(await readFile(`${AUDIO_DIR}${stem}-${rate / 1000}k.wav`)).pcm;
}

/** The TTS fake's voice for `text`, `gainDb` down: its echo on the caller's leg. */
function echoOf(text: string, rate: number, gainDb: number): Buffer {
  const pcm = fakeSpeechPcm(text, rate, { msPerChar: 60, toneHz: 440 });
  const gain = 10 ** (gainDb / 20);
  for (let i = 0; i < pcm.length; i += 2) pcm.writeInt16LE(Math.round(pcm.readInt16LE(i) * gain), i);
  return pcm;
}

/** `over` mixed into `under` from `atMs`. */
function mix(under: Buffer, over: Buffer, atMs: number, rate: number): Buffer {
  const out = Buffer.from(under);
  const start = Math.round((atMs * rate) / 1000) * 2;
  for (let i = 0; i < over.length && start + i + 1 < out.length; i += 2) {
    out.writeInt16LE(Math.max(-32768, Math.min(32767, out.readInt16LE(start + i) + over.readInt16LE(i))), start + i);
  }
  return out;
}

async function recognize(fake: FakeYandexStt, pcm: Buffer, rate: number): Promise<AsrEvent[]> {
  const config = { ...readAsrConfig(new EnvReader({ YANDEX_STT_ENDPOINT: fake.endpoint })).yandex, endGraceMs: 2_000 };
  const asr = createYandexAsr(config, { credentials: CREDENTIALS });
  async function* frames(): AsyncGenerator<Buffer> {
    yield* toFrames(pcm, rate);
  }
  const events: AsrEvent[] = [];
  for await (const event of asr.transcribe(frames(), { sampleRate: rate, signal: new AbortController().signal, log: silentLogger() })) events.push(event);
  return events;
}

const finals = (events: AsrEvent[]) => events.flatMap((e) => (e.type === 'final' ? [e.text] : []));

describe('STT fake: the echo of the bot', { concurrency: true }, () => {
  test('the echo of the TTS tone is recognized as the bot’s words, caller speech as the caller’s, even over the echo', async () => {
    const fake = await startFakeYandexStt({ finalText: (u) => CALLER[u.utterance] ?? '?', echoText: (e) => BOT[e.serverEcho] ?? '' });
    try {
      const rate = 8000;
      const talkedOver = mix(echoOf(BOT[1]!, rate, -12), await wav('en-number', rate), 300, rate);
      const pcm = concatPcm([
        echoOf(BOT[0]!, rate, -12), silence(600, rate),
        await wav('en-wait', rate), silence(600, rate),
        talkedOver, silence(600, rate),
      ]);
      const events = await recognize(fake, pcm, rate);
      assert.deepEqual(finals(events), [BOT[0], CALLER[0], CALLER[1]]);
      assert.deepEqual(fake.sessions[0]!.echoFinals, [BOT[0]]);

      const first = events.findIndex((e) => e.type === 'final');
      const echoPartials = events.slice(0, first).flatMap((e) => (e.type === 'partial' ? [e.text] : []));
      assert.ok(echoPartials.length >= 2, 'the echo gives growing partials');
      assert.ok(echoPartials.every((p) => isEchoOfBotWords(p, BOT[0]!)), 'each is the bot’s words');
      const eous = events.flatMap((e, i) => (e.type === 'eou' ? [i] : []));
      const lastPartials = events.slice(eous[1]! + 1, eous[2]).flatMap((e) => (e.type === 'partial' ? [e.text] : []));
      assert.equal(isEchoOfBotWords(lastPartials[0]!, BOT[1]!), true, 'the echo is heard first');
      assert.ok(CALLER[1]!.startsWith(lastPartials.at(-1)!), 'caller speech over the echo turns it into the caller’s words');
    } finally {
      await fake.close();
    }
  });

  test('without echoText the tone is recognized as any other speech', async () => {
    const fake = await startFakeYandexStt();
    try {
      const rate = 16000;
      const events = await recognize(fake, concatPcm([echoOf(BOT[0]!, rate, -12), silence(600, rate)]), rate);
      assert.deepEqual(finals(events), ['utterance 0']);
      assert.deepEqual(fake.sessions[0]!.echoFinals, []);
    } finally {
      await fake.close();
    }
  });
});
