/**
 * The conversation's timers on a manual clock, through the whole stack over real sockets: a
 * ten-minute silence and a one-hour call limit take no real time, and nothing waits a fixed time.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { botTalking, replyEnded } from './support/call-waits.js';
import { ManualClock } from './support/manual-clock.js';
import { closeChannels, startStack } from './support/stack.js';
import { within } from './support/wait-for.js';

after(() => closeChannels());

const QUICK = { GREETING_TEXT: 'Hello.', BOT_LANGUAGE: 'en' };
const TEN_MINUTES = 600_000;

describe('conversation timers on the call clock', { concurrency: true }, () => {
  test('a caller silent for ten minutes is prompted once, then told goodbye, with no real wait', async () => {
    const clock = new ManualClock();
    const stack = await startStack({ clock, tts: { msPerChar: 10 }, env: { ...QUICK, INACTIVITY_MS: String(TEN_MINUTES), MAX_CALL_MS: String(1000 * TEN_MINUTES) } });
    try {
      const summary = stack.nextSummary();
      const started = performance.now();
      const call = await SimulatedCall.connect({ port: stack.port, sampleRate: 8000, connectTimeoutMs: 30_000 });
      const greetingEnd = await replyEnded(call, { afterMs: 0, quietMs: 200 });
      assert.equal(clock.now(), 0, 'the greeting took no call time');

      // The silence is counted from the end of the greeting: ten minutes of it bring the prompt.
      clock.advance(TEN_MINUTES);
      await botTalking(call, greetingEnd);
      const promptEnd = await replyEnded(call, { afterMs: greetingEnd, quietMs: 200 });
      // And ten more minutes after the prompt, the goodbye and the hang-up.
      clock.advance(TEN_MINUTES);
      await botTalking(call, promptEnd);
      const end = await within(call.closed, 'the bot to hang up');
      assert.equal(end.by, 'server-hangup');
      const done = await summary;
      assert.equal(done.outcome, 'inactivity');
      assert.deepEqual(done.transcript.map((t) => t.text), ['Hello.', 'Are you still there?', 'Thank you for calling. Goodbye!']);
      assert.ok(performance.now() - started < TEN_MINUTES / 10, 'twenty minutes of silence took a fraction of the time');
    } finally {
      await stack.close();
    }
  });

  test('the call ends politely when its hour is up', async () => {
    const clock = new ManualClock();
    const HOUR = 6 * TEN_MINUTES;
    const stack = await startStack({ clock, tts: { msPerChar: 10 }, env: { ...QUICK, MAX_CALL_MS: String(HOUR), INACTIVITY_MS: String(2 * HOUR) } });
    try {
      const summary = stack.nextSummary();
      const call = await SimulatedCall.connect({ port: stack.port, sampleRate: 16000, connectTimeoutMs: 30_000 });
      await replyEnded(call, { afterMs: 0, quietMs: 200 });
      clock.advance(HOUR);
      const end = await within(call.closed, 'the bot to hang up');
      assert.equal(end.by, 'server-hangup');
      const done = await summary;
      assert.equal(done.outcome, 'max_duration');
      assert.equal(done.transcript.at(-1)?.text, 'Thank you for calling. Goodbye!');
    } finally {
      await stack.close();
    }
  });
});
