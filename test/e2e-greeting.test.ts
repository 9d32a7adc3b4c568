import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { measureTone } from '../src/sim/tone.js';
import { expectedSpeechMs } from './fakes/yandex-tts-server.js';
import { closeChannels, startStack } from './support/stack.js';

after(() => closeChannels());

const GREETING = 'Здравствуйте! Вы позвонили в службу доставки.';
const MS_PER_CHAR = 40;

/** Places a call that sends line silence from its first frame, and waits for the greeting to end. */
async function greetingOf(port: number): Promise<{ firstAudioMs: number; soundMs: number; toneHz: number | undefined }> {
  const call = await SimulatedCall.connect({ port, sampleRate: 8000 });
  const expected = expectedSpeechMs(GREETING, MS_PER_CHAR);
  const deadline = call.nowMs() + expected + 5000;
  // The greeting is over once it has sounded and 300 ms of silence followed.
  for (;;) {
    const voiced = call.received.filter((f) => f.voiced);
    const last = voiced.at(-1);
    if (last !== undefined && call.nowMs() - last.atMs > 300) break;
    if (call.nowMs() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await call.hangUp();
  const firstSent = call.sent[0]!.atMs;
  const firstVoiced = call.received.find((f) => f.voiced);
  assert.ok(firstVoiced, 'no greeting was heard');
  const tone = measureTone(call.received.filter((f) => f.payload !== undefined).map((f) => ({ kind: f.kind, payload: f.payload! })));
  return { firstAudioMs: firstVoiced.atMs - firstSent, soundMs: tone.soundMs, toneHz: tone.toneHz };
}

test('the greeting starts as soon as the first frame arrives, on the first call after start too', async () => {
  // A slow synthesizer: the whole greeting takes about 3.6 s to synthesize, its first piece 40 ms.
  const stack = await startStack({
    tts: { msPerChar: MS_PER_CHAR, firstChunkDelayMs: 40, chunkMs: 100, chunkIntervalMs: 200 },
    env: { GREETING_TEXT: GREETING, BOT_LANGUAGE: 'ru', LOG_LEVEL: 'info' },
  });
  try {
    // At once: the phrases are still being synthesized ahead, so this call meets a cache miss.
    const first = await greetingOf(stack.port);
    const wholeSynthesisMs = (expectedSpeechMs(GREETING, MS_PER_CHAR) / 100) * 200;
    assert.ok(first.firstAudioMs < wholeSynthesisMs / 2, `first call: greeting after ${first.firstAudioMs} ms; the whole phrase takes ${wholeSynthesisMs} ms`);
    assert.ok(Math.abs(first.soundMs - expectedSpeechMs(GREETING, MS_PER_CHAR)) <= 60, `first call heard ${first.soundMs} ms of the greeting`);
    const requests = stack.tts.requests.filter((r) => r.text === GREETING && r.sampleRate === 8000).length;
    assert.equal(requests, 1, 'the streamed greeting and the warm-up share one synthesis');

    // The next call plays it from the cache.
    const second = await greetingOf(stack.port);
    assert.ok(second.firstAudioMs < 600, `second call: greeting after ${second.firstAudioMs} ms`);
    assert.equal(Math.abs(second.toneHz! - 440) < 10, true, `second call heard ${second.toneHz} Hz`);
    assert.equal(stack.tts.requests.filter((r) => r.text === GREETING && r.sampleRate === 8000).length, 1, 'the greeting was cached when complete');
  } finally {
    await stack.close();
  }
});
