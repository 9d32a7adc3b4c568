import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readEchoGuardConfig } from '../src/call/echo-guard-config.js';
import { isEchoOfBotWords } from '../src/call/echo-text.js';
import { EnvReader } from '../src/config/env-reader.js';

const BOT = 'Sure, let me look that up for you. Your order was placed yesterday evening.';

describe('partials that are the bot’s own words', { concurrency: true }, () => {
  test('the bot’s words coming back are echo, whatever the case, punctuation or a cut last word', () => {
    for (const partial of ['sure let me', 'Sure, let me loo', 'your order was placed yesterday', 'LET ME LOOK THAT UP', 'you'])
      assert.equal(isEchoOfBotWords(partial, BOT), true, partial);
  });

  test('recognizer slips and a dropped word still match', () => {
    for (const partial of ['shure let me look', 'yesterdy evening', 'order placed', 'up for you your order was placed yesterday evening hello'])
      assert.equal(isEchoOfBotWords(partial, BOT), true, partial);
  });

  test('the caller’s own words are not echo, even mixed with a few of the bot’s', () => {
    for (const partial of ['wait stop', 'sure let me wait', 'hello sure let me', 'the order', 'placed sure', 'no'])
      assert.equal(isEchoOfBotWords(partial, BOT), false, partial);
  });

  test('Russian: ё reads as е, and inflected slips within a letter match', () => {
    assert.equal(isEchoOfBotWords('заказ будет доставлен', 'Ваш заказ будет доставлен завтра.'), true);
    assert.equal(isEchoOfBotWords('закас будет', 'Ваш заказ будет доставлен завтра.'), true);
    assert.equal(isEchoOfBotWords('ещё раз', 'Еще раз, пожалуйста.'), true);
    assert.equal(isEchoOfBotWords('подождите', 'Ваш заказ будет доставлен завтра.'), false);
  });

  test('nothing heard, or nothing said, is not echo', () => {
    assert.equal(isEchoOfBotWords('', BOT), false);
    assert.equal(isEchoOfBotWords(' , ', BOT), false);
    assert.equal(isEchoOfBotWords('sure let me', ''), false);
  });
});

describe('echo guard settings', () => {
  test('on by default, with a 300 ms range, a 3 dB margin and 6 dB of loss assumed', () => {
    const env = new EnvReader({});
    assert.deepEqual(readEchoGuardConfig(env), { enabled: true, maxDelayMs: 300, marginDb: 3, minLossDb: 6 });
    env.finish();
  });

  test('every bad value is reported, naming its variable', () => {
    const env = new EnvReader({ ECHO_GUARD: 'maybe', ECHO_GUARD_MAX_DELAY_MS: '5000', ECHO_GUARD_MARGIN_DB: 'x', ECHO_GUARD_MIN_LOSS_DB: '-3' });
    readEchoGuardConfig(env);
    assert.throws(() => env.finish(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'config_invalid');
      for (const name of ['ECHO_GUARD:', 'ECHO_GUARD_MAX_DELAY_MS', 'ECHO_GUARD_MARGIN_DB', 'ECHO_GUARD_MIN_LOSS_DB']) assert.ok(err.message.includes(name), name);
      return true;
    });
  });

  test('the guard can be turned off and tuned', () => {
    const env = new EnvReader({ ECHO_GUARD: 'false', ECHO_GUARD_MAX_DELAY_MS: '500', ECHO_GUARD_MARGIN_DB: '4.5', ECHO_GUARD_MIN_LOSS_DB: '10' });
    assert.deepEqual(readEchoGuardConfig(env), { enabled: false, maxDelayMs: 500, marginDb: 4.5, minLossDb: 10 });
    env.finish();
  });
});
