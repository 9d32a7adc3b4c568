import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { runCall } from '../src/sim/run-call.js';
import { closeChannels, startStack } from './support/stack.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);

after(() => closeChannels());

const QUICK = { GREETING_TEXT: 'Hello.', BOT_LANGUAGE: 'en' };

describe('call lifecycle end to end', { concurrency: true }, () => {
  test('a silent caller is prompted once, then the bot says goodbye and hangs up', async () => {
    const stack = await startStack({ tts: { msPerChar: 10 }, env: { ...QUICK, INACTIVITY_MS: '1200' } });
    try {
      const summary = stack.nextSummary();
      const report = await runCall({ port: stack.port, connectTimeoutMs: 30_000, sampleRate: 8000, hangupAfterMs: 60_000 });
      assert.equal(report.endedBy, 'server-hangup');
      const done = await summary;
      assert.equal(done.outcome, 'inactivity');
      assert.deepEqual(done.transcript.map((t) => t.text), ['Hello.', 'Are you still there?', 'Thank you for calling. Goodbye!']);
    } finally {
      await stack.close();
    }
  });

  test('the call ends politely at the maximum duration', async () => {
    const stack = await startStack({ tts: { msPerChar: 10 }, env: { ...QUICK, MAX_CALL_MS: '1500' } });
    try {
      const summary = stack.nextSummary();
      const report = await runCall({ port: stack.port, connectTimeoutMs: 30_000, sampleRate: 16000, hangupAfterMs: 60_000 });
      assert.equal(report.endedBy, 'server-hangup');
      assert.ok(report.durationMs < 20_000, `call lasted ${report.durationMs} ms`);
      assert.equal((await summary).outcome, 'max_duration');
    } finally {
      await stack.close();
    }
  });

  test('the model hangs up with a tool call: its goodbye is played, then the call ends', async () => {
    const stack = await startStack({
      stt: { finalText: () => 'that is all thank you', eouSilenceMs: 300 },
      llm: { script: [{ text: 'You are welcome, goodbye!', toolCalls: [{ name: 'hang_up', arguments: '{"reason":"caller is done"}' }] }] },
      tts: { msPerChar: 15 },
      env: QUICK,
    });
    try {
      const order = await audio('en-order-8k.wav');
      const summary = stack.nextSummary();
      const report = await runCall({ port: stack.port, connectTimeoutMs: 30_000, sampleRate: 8000, turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 600 }], hangupAfterMs: 60_000 });
      assert.equal(report.endedBy, 'server-hangup');
      assert.ok(report.turns[0]!.replyMs !== undefined && report.turns[0]!.replyMs >= 300, 'the goodbye was not played before hanging up');
      const done = await summary;
      assert.equal(done.outcome, 'bot_hangup');
      assert.equal(stack.llm.requests.length, 1);
    } finally {
      await stack.close();
    }
  });

  test('the model transfers only to an allowed destination; the dialplan gets the extension', async () => {
    const stack = await startStack({
      ari: true,
      stt: { finalText: () => 'put me through to an operator', eouSilenceMs: 300 },
      llm: {
        script: [
          { toolCalls: [{ name: 'transfer', arguments: '{"destination":"+79990001122"}' }] },
          { text: 'I can only connect you to the operator.', toolCalls: [{ name: 'transfer', arguments: '{"destination":"operator"}' }] },
        ],
      },
      tts: { msPerChar: 15 },
      env: { ...QUICK, TRANSFER_DESTINATIONS: 'operator=100' },
    });
    try {
      const uuid = '11111111-2222-4333-8444-555555555555';
      stack.ari!.addChannel('1732430000.9');
      stack.ari!.globals.set(`VOICEBOT_CHAN_${uuid}`, '1732430000.9');
      const order = await audio('en-order-8k.wav');
      const summary = stack.nextSummary();
      const report = await runCall({ port: stack.port, connectTimeoutMs: 30_000, uuid, sampleRate: 8000, turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 600 }], hangupAfterMs: 60_000 });
      assert.equal(report.endedBy, 'server-hangup');
      const done = await summary;
      assert.equal(done.outcome, 'transfer');
      // The refused destination went back to the model as a tool result.
      const second = stack.llm.requests[1]!.body.messages as { role: string; content: string }[];
      assert.match(second.at(-1)!.content, /refused/);
      const sets = stack.ari!.requests.filter((r) => r.method === 'POST' && r.query.variable === `VOICEBOT_XFER_${uuid}` && r.query.value !== undefined);
      assert.deepEqual(sets.map((r) => r.query.value), ['100']);
    } finally {
      await stack.close();
    }
  });
});
