import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { readWav } from '../src/audio/wav.js';
import { runCall } from '../src/sim/run-call.js';
import { closeChannels, startStack } from './support/stack.js';

/** The stack turns the warm-up probes off for other tests; these turn them back on (the defaults). */
const WARM = { LLM_KEEP_WARM_MS: '30000', YANDEX_TTS_HTTP_KEEP_WARM_MS: '30000' };

after(() => closeChannels());

async function waitFor(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${ms} ms`);
    await sleep(10);
  }
}

test('every provider connection is open before the first call, and the first call uses it', async () => {
  const stack = await startStack({
    stt: { finalText: () => 'Hello there', eouSilenceMs: 300 },
    llm: { script: [{ text: 'Hi.' }] },
    tts: { msPerChar: 10 },
    env: { GREETING_TEXT: 'Hi.', BOT_LANGUAGE: 'en', ...WARM },
  });
  try {
    await waitFor('recognizer connection', () => stack.stt.connections.length === 1);
    await waitFor('synthesizer connection', () => stack.tts.connections.length === 1);
    await waitFor('model endpoint warm-up', () => stack.llm.modelListings.length >= 1);
    await waitFor('HTTP synthesizer warm-up', () => stack.ttsHttp.probes.length >= 1);
    assert.equal(stack.stt.sessions.length, 0, 'no call yet');
    assert.equal(stack.llm.requests.length, 0, 'no chat request yet');

    const order = await readWav(new URL('../../shared/audio/en-wait-16k.wav', import.meta.url).pathname);
    const report = await runCall({
      port: stack.port,
      sampleRate: 16000,
      turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 200 }],
      replyEndSilenceMs: 300,
    });
    assert.equal(report.error, undefined);
    assert.ok(report.turns[0]?.latencyMs !== undefined, 'the turn got a reply');

    assert.equal(stack.stt.connections.length, 1, 'the recognizer stream opened no connection of its own');
    assert.equal(stack.stt.sessions[0]!.peer, stack.stt.connections[0]!.peer);
    assert.equal(stack.tts.connections.length, 1);
    assert.equal(stack.tts.requests[0]!.peer, stack.tts.connections[0]!.peer);
    assert.equal(stack.llm.requests[0]!.peer, stack.llm.modelListings[0], 'the chat request reused the warm-up connection');
    assert.equal(stack.llm.connections.length, 1);
  } finally {
    await stack.close();
  }
});

test('a recognizer connection that drops is opened again before any call needs it', async () => {
  const stack = await startStack();
  try {
    await waitFor('recognizer connection', () => stack.stt.connections.length === 1);
    stack.stt.dropConnections();
    await waitFor('reconnected without a call', () => stack.stt.connections.length === 2);
    assert.equal(stack.stt.sessions.length, 0);
  } finally {
    await stack.close();
  }
});

test('LLM_KEEP_WARM_MS=0 and YANDEX_TTS_HTTP_KEEP_WARM_MS=0 send no warm-up requests', async () => {
  const stack = await startStack({ env: { LLM_KEEP_WARM_MS: '0', YANDEX_TTS_HTTP_KEEP_WARM_MS: '0' } });
  try {
    // The gRPC channels are opened at start either way: once they are, the HTTP ones would have been too.
    await waitFor('recognizer connection', () => stack.stt.connections.length === 1);
    await sleep(100);
    assert.equal(stack.llm.connections.length, 0);
    assert.equal(stack.ttsHttp.connections.length, 0);
  } finally {
    await stack.close();
  }
});

test('without a recognizer the model is never asked, so no warm-up probe goes to it', async () => {
  const stack = await startStack({ env: { ...WARM, ASR_PROVIDER: 'none' } });
  try {
    // The synthesizer's connections are opened at start: once they are, the model's would have been too.
    await waitFor('HTTP synthesizer warm-up', () => stack.ttsHttp.probes.length >= 1);
    await sleep(100);
    assert.equal(stack.llm.modelListings.length, 0);
    assert.equal(stack.llm.connections.length, 0);
  } finally {
    await stack.close();
  }
});

test('an idle model connection is kept open by a probe before the server keep-alive ends', async () => {
  const stack = await startStack({ env: WARM });
  try {
    await waitFor('warm-up', () => stack.llm.modelListings.length >= 1);
    const before = stack.llm.connections.length;
    // The server announces a 5 s keep-alive (Node's default): the idle probe comes before it ends.
    await waitFor('a probe on the open connection', () => stack.llm.modelListings.length >= 2, 5_000);
    assert.equal(stack.llm.connections.length, before, 'the probe kept the connection rather than opening another');
  } finally {
    await stack.close();
  }
});

test('a model endpoint that drops every connection: start-up goes on, repeated probes, one warning', async () => {
  const sockets: Socket[] = [];
  const rude = createServer((socket) => {
    sockets.push(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
  const port = (rude.address() as AddressInfo).port;
  const stack = await startStack({ env: { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, LLM_KEEP_WARM_MS: '1000' } });
  try {
    await waitFor('three probes', () => sockets.length >= 3);
    const warnings = stack.logs.filter((l) => l.level === 40 && l.provider === 'llm');
    assert.equal(warnings.length, 1);
  } finally {
    await stack.close();
    rude.close();
  }
});
