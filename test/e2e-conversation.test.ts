import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { runCall } from '../src/sim/run-call.js';
import { closeChannels, startStack } from './support/stack.js';

const audio = (name: string) => readWav(new URL(`../../shared/audio/${name}`, import.meta.url).pathname);

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
      const [order, number] = await Promise.all([audio('ru-order-16k.wav'), audio('ru-number-16k.wav')]);
      const summary = stack.nextSummary();
      const report = await runCall({
        port: stack.port,
        sampleRate: 16000,
        turns: [
          { pcm: order.pcm, sampleRate: order.sampleRate, at: 800 },
          { pcm: number.pcm, sampleRate: number.sampleRate, afterReplyMs: 300 },
        ],
        replyEndSilenceMs: 400,
      });
      assert.equal(report.error, undefined);
      assert.equal(report.turns.length, 2);
      for (const turn of report.turns) {
        assert.ok(turn.latencyMs !== undefined, `turn ${turn.index} got no reply`);
        assert.ok(turn.latencyMs < 3000, `turn ${turn.index} answered after ${turn.latencyMs} ms`);
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
      assert.equal(stack.logs.filter((l) => l.msg === 'turn latency').length, 2);
      // The recognizer stream is closed with the call (the cancel reaches the server a moment later).
      for (let i = 0; i < 40 && stack.stt.stats.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(stack.stt.stats.openStreams, 0);
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
      const [order, wait] = await Promise.all([audio('ru-order-16k.wav'), audio('ru-wait-16k.wav')]);
      const summary = stack.nextSummary();
      const report = await runCall({
        port: stack.port,
        sampleRate: 16000,
        turns: [
          { pcm: order.pcm, sampleRate: order.sampleRate, at: 800 },
          // The reply starts about 0.5 s after the first utterance ends (≈ 4.4 s) and lasts ~15 s.
          { pcm: wait.pcm, sampleRate: wait.sampleRate, at: 6500 },
        ],
        replyEndSilenceMs: 400,
        hangupAfterMs: 11_000,
      });
      // The decision that cut the long reply (a slow machine may also see the greeting cut).
      const barge = stack.logs.findLast((l) => l.msg === 'barge-in');
      assert.ok(barge, 'no barge-in decision was logged');
      assert.ok(barge.atMs >= 6500, `the barge-in came at ${barge.atMs} ms, before the caller spoke over the reply`);
      // The reply had seconds left: it must stop right at the decision. The bound is loose for a
      // loaded machine; the benchmark measures the frames after the decision exactly.
      const cut = report.turns[1]?.bargeIn;
      assert.ok(cut, 'the second utterance did not start over the bot');
      const stoppedAt = report.turns[1]!.startMs + (cut.botStoppedAfterMs ?? Infinity);
      assert.ok(stoppedAt <= barge.atMs + 400, `bot went on until ${stoppedAt} ms, decision at ${barge.atMs} ms`);
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
      env: { ...QUICK, DTMF_TRANSFER_DIGIT: '0', DTMF_TRANSFER_DESTINATION: 'operator' },
    });
    try {
      const uuid = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
      stack.ari!.addChannel('1732430000.42');
      stack.ari!.globals.set(`VOICEBOT_CHAN_${uuid}`, '1732430000.42');
      const summary = stack.nextSummary();
      const report = await runCall({
        port: stack.port,
        uuid,
        sampleRate: 8000,
        dtmf: [
          { at: 600, digits: '12#', intervalMs: 150 },
          { at: 3000, digits: '0' },
        ],
        hangupAfterMs: 8000,
      });
      assert.equal(report.endedBy, 'server-hangup');
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
      const order = await audio('ru-order-8k.wav');
      const summary = stack.nextSummary();
      await runCall({ port: stack.port, uuid, sampleRate: 8000, turns: [{ pcm: order.pcm, sampleRate: order.sampleRate, at: 600 }], hangupAfterMs: 6000 });
      const closedAt = Date.now();
      stack.ari!.removeChannel('1732430000.7');
      const done = await summary;
      assert.equal(done.outcome, 'caller_hangup');
      await new Promise((r) => setTimeout(r, 500));
      const late = stack.ari!.requests.filter((r) => r.at > closedAt + 50);
      assert.deepEqual(late, [], 'ARI was called after the AudioSocket closed');
      assert.equal(stack.logs.filter((l) => /not found/i.test(String(l.msg)) || l.status === 404).length, 0);
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
      env: { ...QUICK, BARGE_IN_FALSE_ALARM_MS: '3000' },
    });
    try {
      const [order, wait] = await Promise.all([audio('ru-order-16k.wav'), audio('ru-wait-16k.wav')]);
      const summary = stack.nextSummary();
      await runCall({
        port: stack.port,
        sampleRate: 16000,
        turns: [
          { pcm: order.pcm, sampleRate: order.sampleRate, at: 800 },
          { pcm: wait.pcm, sampleRate: wait.sampleRate, at: 6000 },
        ],
        replyEndSilenceMs: 600,
        hangupAfterMs: 14_000,
      });
      assert.ok(stack.logs.some((l) => l.msg === 'barge-in'), 'no barge-in decision');
      assert.ok(stack.logs.some((l) => l.msg === 'barge-in was a false alarm; resuming'), 'the reply was not resumed');
      const done = await summary;
      // The whole reply was heard in the end, once; the noise asked the model nothing.
      assert.deepEqual(done.transcript.filter((t) => t.role === 'bot').map((t) => t.text), ['Алло.', long]);
      assert.equal(stack.llm.requests.length, 1);
    } finally {
      await stack.close();
    }
  });
});
