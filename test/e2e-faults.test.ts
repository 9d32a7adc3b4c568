import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { runCall } from '../src/sim/run-call.js';
import { converse } from './support/call-waits.js';
import { closeChannels, startStack } from './support/stack.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);

after(() => closeChannels());

const QUICK = { GREETING_TEXT: 'Hello.', BOT_LANGUAGE: 'en' };

async function oneTurn(port: number) {
  const order = await audio('en-order-16k.wav');
  return converse({ port, sampleRate: 16000 }, [order.pcm]);
}

describe('provider faults end to end', { concurrency: true }, () => {
  test('TTS gRPC down: the HTTP fallback is heard', async () => {
    const stack = await startStack({
      stt: { finalText: () => 'check my order', eouSilenceMs: 300 },
      llm: { script: [{ text: 'Your order is on its way.' }] },
      tts: { error: 'UNAVAILABLE' },
      ttsHttp: { msPerChar: 15 },
      env: QUICK,
    });
    try {
      const report = await oneTurn(stack.port);
      assert.ok(report.turns[0]!.latencyMs !== undefined, 'no reply was heard');
      assert.ok(stack.ttsHttp.requests.some((r) => r.form.text === 'Your order is on its way.'));
    } finally {
      await stack.close();
    }
  });

  test('TTS gRPC hanging: the hedged HTTP request is heard, the gRPC call cancelled', async () => {
    const stack = await startStack({
      stt: { finalText: () => 'check my order', eouSilenceMs: 300 },
      llm: { script: [{ text: 'Your order is on its way.' }] },
      tts: { hang: true },
      ttsHttp: { msPerChar: 15 },
      env: { ...QUICK, TTS_HEDGE_MS: '150' },
    });
    try {
      const report = await oneTurn(stack.port);
      assert.ok(report.turns[0]!.latencyMs !== undefined, 'no reply was heard');
      const grpc = stack.tts.requests.find((r) => r.text === 'Your order is on its way.');
      assert.ok(grpc?.cancelled, 'the hanging gRPC request was not cancelled');
      assert.ok(stack.ttsHttp.requests.some((r) => r.form.text === 'Your order is on its way.'));
    } finally {
      await stack.close();
    }
  });

  test('ASR stream dropped mid-call: it reconnects and the call goes on', async () => {
    const stack = await startStack({
      stt: { finalText: (u) => ['check my order', 'the number is one two three four'][u.utterance] ?? 'more', eouSilenceMs: 300, drop: { afterMs: 1500, times: 1 } },
      llm: { script: [{ text: 'Sure, what is the number?' }, { text: 'Thanks, it ships today.' }] },
      tts: { msPerChar: 15 },
      env: QUICK,
    });
    try {
      const [order, number] = await Promise.all([audio('en-order-16k.wav'), audio('en-number-16k.wav')]);
      const report = await converse({ port: stack.port, sampleRate: 16000 }, [order.pcm, number.pcm]);
      assert.ok(stack.stt.stats.totalStreams >= 2, 'the recognizer stream was not re-opened');
      assert.ok(report.turns.every((t) => t.latencyMs !== undefined), 'a turn went unanswered');
    } finally {
      await stack.close();
    }
  });

  test('LLM errors: the fallback phrase is heard instead of silence', async () => {
    const stack = await startStack({
      stt: { finalText: () => 'check my order', eouSilenceMs: 300 },
      llm: { script: [{ status: 500 }] },
      tts: { msPerChar: 15 },
      env: QUICK,
    });
    try {
      const summary = stack.nextSummary();
      const report = await oneTurn(stack.port);
      assert.ok(report.turns[0]!.latencyMs !== undefined, 'nothing was heard after the LLM failed');
      assert.ok(stack.llm.requests.length >= 1);
      const done = await summary;
      assert.match(done.transcript.filter((t) => t.role === 'bot').at(-1)!.text, /trouble answering/);
    } finally {
      await stack.close();
    }
  });

  test('ASR authentication refused: the bot says it cannot hear, then hangs up', async () => {
    const stack = await startStack({ stt: { apiKey: 'another-key' }, tts: { msPerChar: 10 }, env: QUICK });
    try {
      const summary = stack.nextSummary();
      const report = await runCall({ port: stack.port, connectTimeoutMs: 30_000, sampleRate: 8000, hangupAfterMs: 60_000 });
      assert.equal(report.endedBy, 'server-hangup');
      const done = await summary;
      assert.equal(done.outcome, 'asr_failed');
      // One fault: one error line, one metric increment (the recognizer's).
      const errors = stack.logs.filter((l) => l.level >= 50);
      assert.equal(errors.length, 1, `${errors.length} error lines`);
      const asrErrors = stack.observed.providerErrors.filter((e) => e.startsWith('asr:') || e.startsWith('yandex-stt:'));
      assert.deepEqual(asrErrors, ['yandex-stt:asr_auth']);
      assert.ok(stack.tts.requests.some((r) => /can't hear/.test(r.text)), 'the cannot-hear phrase was not synthesized');
      // A recognizer known to be down takes the instance out of service (readiness).
      assert.deepEqual(stack.app.readiness(), { ready: false, reasons: ['speech recognition down (asr_auth)'] });
    } finally {
      await stack.close();
    }
  });
});
