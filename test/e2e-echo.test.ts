import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { closeChannels, startStack } from './support/stack.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);
after(() => closeChannels());

const REPLY = 'Ваш заказ номер двенадцать тридцать четыре уже в пути, курьер привезёт его завтра до полудня, а номер для связи придёт в сообщении.';
const CALLER = 'Где мой заказ';

async function until(what: string, done: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A call on a line that echoes: the caller asks, then (optionally) talks over the reply. */
async function echoCall(options: { delayMs: number; gainDb: number; guard: boolean; interrupt: boolean }) {
  const stack = await startStack({
    // The recognizer transcribes the bot's echo as the bot's words, as a real one does.
    // Only the caller's first question and (when it talks over the bot) its interruption have words:
    // on a loaded machine the fake may take a stretch of echo for other sound, which must not
    // count as the caller's words either way.
    stt: { finalText: (u) => (u.serverUtterance === 0 ? CALLER : options.interrupt ? 'Подождите, у меня другой вопрос' : ''), echoText: () => REPLY, eouSilenceMs: 300 },
    llm: { script: [{ text: REPLY }, { text: 'Слушаю вас.' }] },
    tts: { msPerChar: 40 },
    env: { GREETING_TEXT: 'Алло.', BOT_LANGUAGE: 'ru', LOG_LEVEL: 'info', ECHO_GUARD: String(options.guard) },
  });
  try {
    const [ask, speak] = await Promise.all([audio('ru-order-16k.wav'), audio('ru-wait-16k.wav')]);
    const summary = stack.nextSummary(60_000);
    const call = await SimulatedCall.connect({ port: stack.port, sampleRate: 16000, echo: { delayMs: options.delayMs, gainDb: options.gainDb } });
    await until('the greeting', () => call.received.some((f) => f.voiced));
    await call.play(ask.pcm);
    await until('the reply', () => stack.tts.requests.some((r) => r.text !== 'Алло.'));
    const replyStart = call.nowMs();
    await until('the reply to sound', () => call.received.some((f) => f.voiced && f.atMs > replyStart));
    if (options.interrupt) {
      await new Promise((r) => setTimeout(r, 800));
      await call.play(speak.pcm);
    }
    // Wait while the reply plays out (about 5 s), or until the bot has taken its echo for the caller.
    await until('the reply to end', () => {
      if (options.interrupt) return stack.observed.bargeIns.length > 0;
      // Without the guard, the wait is for the echo to be taken for the caller, however late a loaded machine gets there.
      if (!options.guard) return stack.observed.bargeIns.length > 0 || stack.llm.requests.length > 1;
      const last = call.received.findLast((f) => f.voiced);
      return last !== undefined && call.nowMs() - last.atMs > 1500;
    }, 30_000);
    await call.hangUp();
    return { done: await summary, llmRequests: stack.llm.requests.length, bargeIns: stack.observed.bargeIns.length };
  } finally {
    await stack.close();
  }
}

// One call at a time: each is a long real-time call, and the echo's timing is what is tested.
describe('barge-in on a line that echoes the bot', { concurrency: false }, () => {
  for (const path of [
    { delayMs: 60, gainDb: -12 },
    { delayMs: 200, gainDb: -6 },
  ]) {
    test(`the echo alone (${path.delayMs} ms, ${path.gainDb} dB) never interrupts the bot`, async () => {
      const { done, llmRequests } = await echoCall({ ...path, guard: true, interrupt: false });
      const reply = done.turns[0];
      assert.ok(reply, 'the caller got no reply');
      assert.equal(reply.interrupted, false, 'the bot was cut off by its own echo');
      assert.equal(llmRequests, 1, 'the echo of the reply was taken for the caller\'s words');
      const heard = done.transcript.find((t) => t.role === 'bot' && t.text.startsWith('Ваш заказ'));
      assert.equal(heard?.text, REPLY, 'the history records the whole reply, heard in full');
    });
  }

  test('caller speech over the echo still cuts the bot off', async () => {
    const { done } = await echoCall({ delayMs: 60, gainDb: -12, guard: true, interrupt: true });
    assert.equal(done.turns[0]?.interrupted, true, 'the caller could not interrupt');
    const heard = done.transcript.find((t) => t.role === 'bot' && t.text.startsWith('Ваш'));
    assert.ok(heard && heard.text.length < REPLY.length, 'only what was heard goes into the history');
  });

  test('without the guard the echo is taken for the caller (what the guard prevents)', async () => {
    // A barge-in decision is the echo taken for the caller, even when the recognizer then returns an
    // empty utterance for it (a loaded machine) and the reply resumes as after a false alarm.
    const { llmRequests, bargeIns } = await echoCall({ delayMs: 200, gainDb: -6, guard: false, interrupt: false });
    assert.ok(bargeIns > 0 || llmRequests > 1, 'the echo neither cut the bot off nor started a reply');
  });
});
