import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { measureTone } from '../src/sim/tone.js';
import { expectedSpeechMs } from './fakes/yandex-tts-server.js';
import { replyEnded } from './support/call-waits.js';
import { closeChannels, startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait-for.js';

after(() => closeChannels());

const GREETING = 'Здравствуйте! Вы позвонили в службу доставки.';
const MS_PER_CHAR = 40;

/**
 * Places a call that sends line silence from its first frame, and waits for the greeting to end:
 * played from a synthesis still under way, until the synthesizer has sent it all and the call's
 * playout has written it; played from the cache, until 300 ms of silence followed it.
 */
async function greetingOf(stack: Stack, streamed: boolean) {
  const served = stack.server.calls().length;
  const call = await SimulatedCall.connect({ port: stack.port, connectTimeoutMs: 30_000, sampleRate: 8000 });
  const origin = performance.now() - call.nowMs();
  if (streamed) {
    const server = await waitFor(() => stack.server.calls()[served], 'the call at the server');
    await waitFor(() => stack.tts.requests.find((r) => r.text === GREETING && r.sampleRate === 8000)?.endedAt, 'the whole greeting synthesized');
    await server.playout.whenIdle();
    await waitFor(() => call.received.length >= server.playout.stats.framesWritten, 'every frame written');
  } else {
    await replyEnded(call, { afterMs: 0, quietMs: 300 });
  }
  await call.hangUp();
  const firstSent = call.sent[0]!.atMs;
  const firstVoiced = call.received.find((f) => f.voiced);
  assert.ok(firstVoiced, 'no greeting was heard');
  const tone = measureTone(call.received.filter((f) => f.payload !== undefined).map((f) => ({ kind: f.kind, payload: f.payload! })));
  return { firstAudioMs: firstVoiced.atMs - firstSent, firstAudioAt: origin + firstVoiced.atMs, soundMs: tone.soundMs, toneHz: tone.toneHz };
}

test('the greeting starts as soon as the first frame arrives, on the first call after start too', async () => {
  // A slow synthesizer: the whole greeting takes about 3.6 s to synthesize, its first piece 40 ms.
  const stack = await startStack({
    tts: { msPerChar: MS_PER_CHAR, firstChunkDelayMs: 40, chunkMs: 100, chunkIntervalMs: 200 },
    env: { GREETING_TEXT: GREETING, BOT_LANGUAGE: 'ru', LOG_LEVEL: 'info' },
  });
  try {
    // At once: the phrases are still being synthesized ahead, so this call meets a cache miss.
    const first = await greetingOf(stack, true);
    // Streamed, not waited for: the caller hears the greeting long before its synthesis ends.
    const synthesized = stack.tts.requests.find((r) => r.text === GREETING && r.sampleRate === 8000)!;
    const headStartMs = synthesized.endedAt! - first.firstAudioAt;
    const wholeSynthesisMs = (expectedSpeechMs(GREETING, MS_PER_CHAR) / 100) * 200;
    assert.ok(headStartMs > wholeSynthesisMs / 4, `first call: greeting heard ${Math.round(headStartMs)} ms before its synthesis ended; the whole phrase takes ${wholeSynthesisMs} ms`);
    assert.ok(Math.abs(first.soundMs - expectedSpeechMs(GREETING, MS_PER_CHAR)) <= 60, `first call heard ${first.soundMs} ms of the greeting`);
    const requests = stack.tts.requests.filter((r) => r.text === GREETING && r.sampleRate === 8000).length;
    assert.equal(requests, 1, 'the streamed greeting and the warm-up share one synthesis');

    // The next call plays it from the cache.
    const second = await greetingOf(stack, false);
    assert.ok(second.firstAudioMs < 3000, `second call: greeting after ${second.firstAudioMs} ms`);
    assert.equal(Math.abs(second.toneHz! - 440) < 10, true, `second call heard ${second.toneHz} Hz`);
    assert.equal(stack.tts.requests.filter((r) => r.text === GREETING && r.sampleRate === 8000).length, 1, 'the greeting was cached when complete');
  } finally {
    await stack.close();
  }
});
