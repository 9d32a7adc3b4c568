import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { converse, longestSendGap } from './support/call-waits.js';
import { closeChannels, startStack } from './support/stack.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);

after(() => closeChannels());

const SPECULATIVE = { GREETING_TEXT: 'Hello.', BOT_LANGUAGE: 'en', SPECULATIVE_REPLY: 'true' };

describe('speculative replies', { concurrency: true }, () => {
  test('a final that matches the stable partial commits the reply started early', async () => {
    const words = 'hello I would like to check the status of my order';
    const stack = await startStack({
      stt: { finalText: () => words, eouSilenceMs: 400, partialEveryMs: 150 },
      llm: { script: [{ text: ['Sure, let me check. ', 'One ', 'moment.'], firstTokenMs: 250 }] },
      tts: { msPerChar: 15, firstChunkDelayMs: 100 },
      env: SPECULATIVE,
    });
    try {
      const order = await audio('en-order-16k.wav');
      const summary = stack.nextSummary();
      const report = await converse({ port: stack.port, sampleRate: 16000 }, [order.pcm]);
      const done = await summary;
      const finals = stack.stt.sessions.flatMap((s) => s.finals);
      assert.equal(done.turns.length, 1, `finals ${JSON.stringify(finals)}; the caller stalled up to ${longestSendGap(report.call)} ms`);
      assert.equal(done.turns[0]!.speculative, true, 'the reply was not the speculative one');
      assert.ok(report.turns[0]!.latencyMs !== undefined, 'no reply was heard');
      // The reply heard answered the whole utterance; no second request followed the final.
      assert.equal(stack.llm.requests.at(-1)!.body.messages.at(-1).content, words);
      assert.equal(stack.llm.requests.filter((r) => r.body.messages.at(-1).content === words).length, 1);
    } finally {
      await stack.close();
    }
  });

  test('a final that differs from the partial discards the early reply silently', async () => {
    // The final carries more words than the partials ever showed.
    const final = 'wait stop one second please I need to find the number of my order first';
    const stack = await startStack({
      stt: { finalText: () => final, eouSilenceMs: 400, partialEveryMs: 400 },
      llm: { script: (request) => ({ text: request.body.messages.at(-1).content === final ? 'Take your time.' : 'WRONG speculative reply.', firstTokenMs: 100 }) },
      tts: { msPerChar: 15 },
      env: SPECULATIVE,
    });
    try {
      const wait = await audio('en-wait-16k.wav');
      const summary = stack.nextSummary();
      const report = await converse({ port: stack.port, sampleRate: 16000 }, [wait.pcm]);
      const done = await summary;
      const finals = stack.stt.sessions.flatMap((s) => s.finals);
      assert.equal(finals.length, 1, `finals ${JSON.stringify(finals)}; the caller stalled up to ${longestSendGap(report.call)} ms`);
      assert.equal(done.turns[0]!.speculative, false);
      assert.ok(report.turns[0]!.latencyMs !== undefined, 'no reply was heard');
      assert.ok(!stack.tts.requests.some((r) => r.text.startsWith('WRONG') && !r.cancelled), 'the discarded reply was synthesized to the end');
      assert.deepEqual(done.transcript.filter((t) => t.role === 'bot').map((t) => t.text), ['Hello.', 'Take your time.']);
    } finally {
      await stack.close();
    }
  });
});
