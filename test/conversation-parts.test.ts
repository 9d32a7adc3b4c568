import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BargeIn } from '../src/call/barge-in.js';
import { callTimers } from '../src/call/clock.js';
import { Inactivity } from '../src/call/inactivity.js';
import { Speculation } from '../src/call/speculation.js';
import { Utterances, type UtteranceEvents } from '../src/call/utterances.js';
import { ManualClock } from './support/manual-clock.js';

function timers(clock = new ManualClock()) {
  const life = new AbortController();
  return { clock, timers: callTimers(clock, life.signal), end: () => life.abort() };
}

describe('barge-in state machine', () => {
  const settings = { enabled: true, minChars: 2, falseAlarmMs: 1500 };
  test('cuts only when voice and words come over an audible reply', () => {
    const b = new BargeIn(settings);
    assert.equal(b.shouldCut({ botAudible: true, speaking: true, partial: 'да' }), true);
    assert.equal(b.shouldCut({ botAudible: false, speaking: true, partial: 'да' }), false, 'nothing to cut');
    assert.equal(b.shouldCut({ botAudible: true, speaking: false, partial: 'да' }), false, 'words without voice');
    assert.equal(b.shouldCut({ botAudible: true, speaking: true, partial: 'м' }), false, 'a cough transcribed as one letter');
    assert.equal(new BargeIn({ ...settings, enabled: false }).shouldCut({ botAudible: true, speaking: true, partial: 'да' }), false);
  });

  test('a cut stands when its utterance has words, resumes when it comes back empty in time', () => {
    const b = new BargeIn(settings);
    assert.equal(b.settle(true, 0), undefined, 'no cut, nothing to settle');
    b.cut(1000);
    assert.equal(b.pending, true);
    assert.equal(b.settle(true, 1800), 'stands');
    assert.equal(b.pending, false);
    b.cut(5000);
    assert.equal(b.settle(false, 6000), 'resume');
    b.cut(9000);
    assert.equal(b.settle(false, 10_600), 'expired', 'too late to resume: the caller moved on');
  });
});

describe('utterance assembly', () => {
  function assembler(settings = { minChars: 2, dtmfTransferDigit: '0' as string | undefined, dtmfCollectMs: 1500 }) {
    const t = timers();
    const events: string[] = [];
    const sink: UtteranceEvents = {
      partial: (text) => events.push(`partial:${text}`),
      utterance: (text, at) => events.push(`utterance:${text}@${at}`),
      empty: () => events.push('empty'),
      transferDigit: () => events.push('transfer'),
    };
    return { ...t, events, u: new Utterances(settings, t.timers, sink, () => 42) };
  }

  test('finals join into one utterance at the end of utterance; repeated partials are reported once', () => {
    const { u, events } = assembler();
    u.onAsr({ type: 'partial', text: 'хочу' });
    u.onAsr({ type: 'partial', text: 'хочу' });
    u.onAsr({ type: 'final', text: 'хочу узнать' });
    assert.equal(u.open, true);
    u.onAsr({ type: 'final', text: 'статус заказа' });
    u.onAsr({ type: 'eou' });
    assert.deepEqual(events, ['partial:хочу', 'utterance:хочу узнать статус заказа@42']);
    assert.equal(u.open, false);
  });

  test('a final with no end of utterance is taken whole after 1.2 s', () => {
    const { u, events, clock } = assembler();
    u.onAsr({ type: 'final', text: 'алло' });
    clock.advance(1199);
    assert.deepEqual(events, []);
    clock.advance(1);
    assert.deepEqual(events, ['utterance:алло@42']);
  });

  test('an utterance without words is empty', () => {
    const { u, events } = assembler();
    u.onAsr({ type: 'final', text: 'м.' });
    u.onAsr({ type: 'eou' });
    u.onAsr({ type: 'eou' });
    assert.deepEqual(events, ['empty', 'empty']);
  });

  test('digits are collected until # or a pause; the transfer digit goes its own way', () => {
    const { u, events, clock } = assembler();
    u.onDtmf('1');
    u.onDtmf('2');
    u.onDtmf('#');
    u.onDtmf('7');
    clock.advance(1499);
    assert.deepEqual(events, ['utterance:[DTMF] 12#@0']);
    clock.advance(1);
    u.onDtmf('0');
    assert.deepEqual(events, ['utterance:[DTMF] 12#@0', 'utterance:[DTMF] 7@1500', 'transfer']);
  });

  test('no timer fires after the call ended', () => {
    const { u, events, clock, end } = assembler();
    u.onAsr({ type: 'final', text: 'алло' });
    end();
    clock.advance(5000);
    assert.deepEqual(events, []);
  });
});

describe('inactivity', () => {
  test('one prompt after the silence, then giving up the second time; busy time does not count', () => {
    const { clock, timers: t } = timers();
    const seen: string[] = [];
    let busy = false;
    const watch = new Inactivity(10_000, t, { busy: () => busy, prompt: () => seen.push('prompt'), giveUp: () => seen.push('give up') });
    watch.activity();
    clock.advance(6000);
    watch.activity();
    clock.advance(9999);
    assert.deepEqual(seen, [], 'activity re-arms the wait');
    clock.advance(1);
    assert.deepEqual(seen, ['prompt']);
    busy = true;
    watch.activity();
    clock.advance(30_000);
    assert.deepEqual(seen, ['prompt'], 'a reply or an utterance in progress is not silence');
    busy = false;
    clock.advance(10_000);
    assert.deepEqual(seen, ['prompt', 'give up']);
  });

  test('a caller who answers gets a prompt again next time', () => {
    const { clock, timers: t } = timers();
    const seen: string[] = [];
    const watch = new Inactivity(1000, t, { busy: () => false, prompt: () => seen.push('prompt'), giveUp: () => seen.push('give up') });
    watch.activity();
    clock.advance(1000);
    watch.answered();
    watch.activity();
    clock.advance(1000);
    assert.deepEqual(seen, ['prompt', 'prompt']);
  });
});

describe('speculation', () => {
  function speculation() {
    const { clock, timers: t } = timers();
    const words = { partial: '', finals: '' };
    let quietSince = 0;
    const started: { userText: string; aborted: string | undefined; abort(o: 'discarded'): void }[] = [];
    const s = new Speculation({ enabled: true, stableMs: 150 }, t, words, () => quietSince, (text) => {
      const reply = { userText: text, aborted: undefined as string | undefined, abort: (o: 'discarded') => (reply.aborted = o) };
      started.push(reply);
      return reply;
    });
    return { clock, words, s, started, quiet: (at: number) => (quietSince = at) };
  }

  test('starts once the words are stable and the caller paused, and hands the reply over on the same final', () => {
    const { clock, words, s, started, quiet } = speculation();
    words.partial = 'статус заказа';
    quiet(0);
    s.onPartial(words.partial);
    clock.advance(100);
    quiet(100);
    clock.advance(100);
    assert.equal(started.length, 0, 'the caller spoke 100 ms ago');
    clock.advance(50);
    assert.equal(started.length, 1);
    assert.equal(started[0]!.userText, 'статус заказа');
    assert.equal(s.take('Статус заказа.'), started[0], 'case and punctuation do not matter');
  });

  test('a final with other words discards the reply', () => {
    const { clock, words, s, started } = speculation();
    words.partial = 'статус';
    s.onPartial(words.partial);
    clock.advance(200);
    assert.equal(s.take('статус заказа номер пять'), undefined);
    assert.equal(started[0]!.aborted, 'discarded');
  });

  test('changing words cancel the pending start', () => {
    const { clock, words, s, started } = speculation();
    words.partial = 'статус';
    s.onPartial(words.partial);
    clock.advance(100);
    words.partial = 'статус заказа';
    clock.advance(100);
    assert.equal(started.length, 0);
  });
});
