import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { resample } from '../src/audio/resample.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { turnReports } from '../src/sim/turns.js';
import { botTalking, lastVoicedSent, replyEnded } from './support/call-waits.js';
import { closeChannels, startStack, type Stack } from './support/stack.js';
import { waitFor, within } from './support/wait-for.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);

/** A recording at the call's rate. */
async function speech(name: string, sampleRate: number): Promise<Buffer> {
  const wav = await audio(name);
  return wav.sampleRate === sampleRate ? wav.pcm : resample(wav.pcm, wav.sampleRate, sampleRate);
}

/** Places a call and waits until its greeting has been heard to the end. */
async function greeted(port: number, options: { sampleRate: 8000 | 16000; uuid?: string }): Promise<SimulatedCall> {
  const call = await SimulatedCall.connect({ port, connectTimeoutMs: 30_000, ...options });
  await replyEnded(call, { afterMs: 0, quietMs: 300 });
  return call;
}

/**
 * Resolves once the server has `ms` of the reply queued for the caller: the bot stays audible
 * while the caller talks over it, however slowly a loaded machine synthesizes.
 */
function queuedAhead(stack: Stack, ms: number): Promise<true> {
  return waitFor(() => (stack.server.calls()[0]?.playout.queuedMs ?? 0) >= ms || undefined, 'the reply to be synthesized ahead', 60_000);
}

/** Plays `pcm`, then waits until the bot has talked for `heardMs` after the caller's last voiced frame. */
async function speakAndHear(call: SimulatedCall, pcm: Buffer, heardMs: number): Promise<number> {
  await call.play(pcm);
  const start = await botTalking(call, lastVoicedSent(call));
  await waitFor(() => call.received.filter((f) => f.voiced && f.atMs >= start).length * 20 >= heardMs, 'the reply to be heard');
  return start;
}

after(() => closeChannels());

// Short fixed phrases and fast fake speech keep these real-time calls short.
const QUICK = { GREETING_TEXT: 'Алло.', BOT_LANGUAGE: 'ru', LOG_LEVEL: 'debug' };

describe('conversation end to end', { concurrency: true }, () => {
  test('a two-turn Russian conversation: both replies are heard and the history carries what was said', async () => {
    const said = ['Здравствуйте, я хотел бы узнать статус моего заказа', 'Да, номер заказа двенадцать тридцать четыре'];
    const stack = await startStack({
      stt: { finalText: (u) => said[u.serverUtterance] ?? '', eouSilenceMs: 300 },
      llm: { script: [{ text: 'Конечно, назовите, пожалуйста, номер заказа.' }, { text: 'Спасибо! Заказ номер 1234 уже в пути.' }] },
      tts: { msPerChar: 15 },
      env: QUICK,
    });
    try {
      const [order, number] = await Promise.all([speech('ru-order-16k.wav', 16000), speech('ru-number-16k.wav', 16000)]);
      const summary = stack.nextSummary();
      // Each utterance starts once the bot's previous words have been heard to the end.
      const call = await greeted(stack.port, { sampleRate: 16000 });
      for (const pcm of [order, number]) {
        await call.play(pcm);
        await replyEnded(call, { quietMs: 400 });
      }
      const end = await call.hangUp();
      assert.equal(end.by, 'client');
      const turns = turnReports(call);
      assert.equal(turns.length, 2);
      for (const turn of turns) {
        assert.ok(turn.latencyMs !== undefined, `turn ${turn.index} got no reply`);
        assert.ok(turn.latencyMs < 30_000, `turn ${turn.index} answered after ${turn.latencyMs} ms`);
      }
      assert.equal(stack.llm.requests.length, 2);
      const second = stack.llm.requests[1]!.body.messages as { role: string; content: string }[];
      assert.equal(second[0]!.role, 'system');
      assert.deepEqual(
        second.slice(1).map((m) => [m.role, m.content]),
        [
          ['assistant', 'Алло.'],
          ['user', said[0]],
          ['assistant', 'Конечно, назовите, пожалуйста, номер заказа.'],
          ['user', said[1]],
        ],
      );
      const done = await summary;
      assert.equal(done.outcome, 'caller_hangup');
      assert.equal(done.turns.length, 2);
      for (const turn of done.turns) {
        for (const stage of ['asr_final', 'llm_first_token', 'first_chunk', 'tts_first_audio', 'first_frame'] as const) {
          assert.ok(turn.stages[stage] !== undefined, `stage ${stage} missing`);
        }
      }
      // The recognizer stream is closed with the call (the cancel reaches the server a moment later).
      await waitFor(() => stack.stt.stats.openStreams === 0, 'the recognizer stream to close');
    } finally {
      await stack.close();
    }
  });

  test('barge-in: the caller talking over a reply silences it within a frame of the decision', async () => {
    const long =
      'Конечно. Сейчас я расскажу всё подробно. Ваш заказ был оформлен вчера вечером. ' +
      'Он собран на складе и передан в службу доставки. Курьер привезёт его завтра до обеда. ' +
      'Перед приездом курьер позвонит вам. Если время неудобно, его можно перенести.';
    const stack = await startStack({
      stt: { finalText: (u) => ['Какой статус заказа', 'Подождите, одну секунду'][u.serverUtterance] ?? '', eouSilenceMs: 300 },
      // The answer to the interruption is slow on purpose: its audio must not be mistaken for the cut reply's.
      llm: { script: [{ text: long, tokenDelayMs: 5 }, { text: 'Да, конечно, жду.', firstTokenMs: 2000 }] },
      tts: { msPerChar: 60 },
      env: QUICK,
    });
    try {
      const [order, wait] = await Promise.all([speech('ru-order-16k.wav', 16000), speech('ru-wait-16k.wav', 16000)]);
      const summary = stack.nextSummary();
      const call = await greeted(stack.port, { sampleRate: 16000 });
      const origin = performance.now() - call.nowMs();
      // The reply lasts ~15 s: the caller talks over it once a second of it has been heard.
      await speakAndHear(call, order, 1000);
      await queuedAhead(stack, 5000);
      // Over the bot: while its last frames were voiced.
      await waitFor(() => call.received.length >= 3 && call.received.slice(-3).every((f) => f.voiced), 'the bot talking');
      const interruptedAt = call.nowMs();
      await call.play(wait);
      await waitFor(() => stack.llm.requests.length >= 2, 'the request that answers the interruption', 60_000);
      await call.hangUp();
      // The decision that cut the long reply (a slow machine may also see the greeting cut).
      // A decision needs the bot audible: the caller talked over it.
      const barge = stack.observed.bargeIns.map((at) => at - origin).find((at) => at >= interruptedAt);
      assert.ok(barge !== undefined, 'no barge-in decision while the caller talked over the reply');
      // The reply had seconds left: it must stop at the decision. Counted in frames (those already
      // on their way), not in ms, which a loaded machine stretches; the benchmark times it exactly.
      const speechEnd = call.sent.findLast((m) => m.voiced)!.atMs;
      const after = call.received.filter((f) => f.voiced && f.atMs > barge && f.atMs < speechEnd).length;
      assert.ok(after <= 5, `${after} reply frames after the decision`);
      const done = await summary;
      assert.ok(done.turns[0]!.interrupted, 'the first turn is not marked interrupted');
      // Only what was heard went into the history: a cut prefix of the long reply.
      const next = stack.llm.requests[1]!.body.messages as { role: string; content: string }[];
      const heard = next.filter((m) => m.role === 'assistant').at(-1)!.content;
      assert.ok(heard.length < long.length, 'the whole reply was recorded although it was cut');
      assert.ok(long.startsWith(heard.replace(/…$/, '').slice(0, 20)), `recorded "${heard}" is not the start of the reply`);
      // The cut reply's remaining synthesis requests were cancelled on the wire.
      assert.ok(stack.tts.requests.some((r) => r.cancelled) || stack.tts.active() === 0);
    } finally {
      await stack.close();
    }
  });

  test('DTMF digits reach the model, and the transfer digit hands the call back to the dialplan', async () => {
    const stack = await startStack({
      ari: true,
      stt: { finalText: () => 'алло' },
      llm: { script: [{ text: 'Вы ввели один два.' }] },
      tts: { msPerChar: 15 },
      // The digits are collected however late a loaded machine delivers them ('#' ends them).
      env: { ...QUICK, DTMF_TRANSFER_DIGIT: '0', DTMF_TRANSFER_DESTINATION: 'operator', DTMF_COLLECT_MS: '10000' },
    });
    try {
      const uuid = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
      stack.ari!.addChannel('1732430000.42');
      stack.ari!.globals.set(`VOICEBOT_CHAN_${uuid}`, '1732430000.42');
      const summary = stack.nextSummary();
      const call = await greeted(stack.port, { uuid, sampleRate: 8000 });
      for (const digit of '12#') {
        call.sendDtmf(digit);
        await new Promise((r) => setTimeout(r, 150));
      }
      await waitFor(() => stack.llm.requests.length >= 1, 'the digits to reach the model');
      call.sendDtmf('0');
      const end = await within(call.closed, 'the transfer to end the call', 60_000);
      assert.equal(end.by, 'server-hangup');
      const user = (stack.llm.requests[0]!.body.messages as { role: string; content: string }[]).filter((m) => m.role === 'user');
      assert.match(user.at(-1)!.content, /12/);
      const done = await summary;
      assert.equal(done.outcome, 'transfer');
      const set = stack.ari!.requests.find((r) => r.method === 'POST' && r.path === '/ari/asterisk/variable' && r.query.value !== undefined);
      assert.ok(set, 'no transfer decision was set through ARI');
      assert.equal(set.query.variable, `VOICEBOT_XFER_${uuid}`);
      assert.equal(set.query.value, 'operator');
    } finally {
      await stack.close();
    }
  });

  test('a caller who hangs up mid-reply gets no ARI request afterwards', async () => {
    const stack = await startStack({
      ari: true,
      stt: { finalText: () => 'расскажите всё', eouSilenceMs: 300 },
      llm: { script: [{ text: 'Это очень длинный ответ, который звучит долго. '.repeat(6), tokenDelayMs: 5 }] },
      tts: { msPerChar: 60 },
      env: QUICK,
    });
    try {
      const uuid = '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d';
      stack.ari!.addChannel('1732430000.7');
      stack.ari!.globals.set(`VOICEBOT_CHAN_${uuid}`, '1732430000.7');
      const order = await speech('ru-order-8k.wav', 8000);
      const summary = stack.nextSummary();
      const call = await greeted(stack.port, { uuid, sampleRate: 8000 });
      await speakAndHear(call, order, 500);
      await call.hangUp();
      const closedAt = Date.now();
      stack.ari!.removeChannel('1732430000.7');
      const done = await summary;
      assert.equal(done.outcome, 'caller_hangup');
      // A request made after the close would reach the fake within this window.
      await new Promise((r) => setTimeout(r, 500));
      // Requests sent just before the close may still be arriving during the first moments.
      const late = stack.ari!.requests.filter((r) => r.at > closedAt + 250);
      assert.deepEqual(late, [], 'ARI was called after the AudioSocket closed');
    } finally {
      await stack.close();
    }
  });
});

describe('barge-in false alarm', () => {
  test('speech that turns out to be noise resumes the cut reply where it stopped, without repeating it', async () => {
    const long = 'Ваш заказ собран на складе. Курьер привезёт его завтра до обеда, перед приездом он позвонит.';
    const stack = await startStack({
      stt: { finalText: (u) => ['Какой статус заказа', 'кхм кхм'][u.serverUtterance] ?? '', emptyFinal: (u) => u.serverUtterance === 1, eouSilenceMs: 300 },
      llm: { script: [{ text: long }] },
      tts: { msPerChar: 60 },
      env: { ...QUICK, BARGE_IN_FALSE_ALARM_MS: '10000' },
    });
    try {
      const [order, wait] = await Promise.all([speech('ru-order-16k.wav', 16000), speech('ru-wait-16k.wav', 16000)]);
      const summary = stack.nextSummary();
      const call = await greeted(stack.port, { sampleRate: 16000 });
      const origin = performance.now() - call.nowMs();
      await speakAndHear(call, order, 1000);
      await queuedAhead(stack, 2000);
      const bargeIns = stack.observed.bargeIns.length;
      await call.play(wait);
      await waitFor(() => stack.observed.bargeIns.length > bargeIns, 'the barge-in decision');
      const barge = stack.observed.bargeIns.at(-1)! - origin;
      // The reply resumes and plays to its end.
      await replyEnded(call, { quietMs: 800, timeoutMs: 60_000 });
      await call.hangUp();
      // On the wire: the bot fell silent at the decision (until the empty final, seconds later),
      // then spoke again.
      const after = call.received.filter((f) => f.atMs > barge);
      const resumedAt = after.findIndex((f, i) => f.voiced && i >= 25 && after.slice(i - 25, i).every((g) => !g.voiced));
      assert.ok(resumedAt > 0, 'the reply was not silenced at the decision and then resumed');
      const done = await summary;
      // The whole reply was heard in the end, once; the noise asked the model nothing.
      assert.deepEqual(done.transcript.filter((t) => t.role === 'bot').map((t) => t.text), ['Алло.', long]);
      assert.equal(stack.llm.requests.length, 1);
    } finally {
      await stack.close();
    }
  });
});
