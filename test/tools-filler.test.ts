import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withFiller } from '../src/tools/filler.js';

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

/** Resolves when a filler scheduled now with `delayMs` fires: any timer of that delay set earlier has fired before it. */
function sentinel(delayMs: number): Promise<void> {
  return new Promise((resolve) => void withFiller(later(delayMs + 200, null), delayMs, resolve));
}

test('the filler plays once when the tool is slow, and the result comes through', async () => {
  let fillers = 0;
  const started = performance.now();
  const value = await withFiller(later(400, 'answer'), 50, () => void fillers++);
  assert.equal(value, 'answer');
  assert.equal(fillers, 1);
  assert.ok(performance.now() - started >= 350);
});

test('no filler for a tool that answers in time, an aborted turn, or a failed tool', async () => {
  let fillers = 0;
  const fast = withFiller(Promise.resolve('quick'), 100, () => void fillers++);
  const controller = new AbortController();
  const aborted = withFiller(later(300, 'late'), 100, () => void fillers++, controller.signal);
  const failed = withFiller(Promise.reject(new Error('boom')), 100, () => void fillers++);
  assert.equal(await fast, 'quick');
  controller.abort();
  await assert.rejects(failed, /boom/);
  await sentinel(100);
  assert.equal(fillers, 0);
  assert.equal(await aborted, 'late');
});

test('a filler that throws does not fail the tool call', async () => {
  const value = await withFiller(later(200, 7), 20, () => {
    throw new Error('tts down');
  });
  assert.equal(value, 7);
  const rejected = await withFiller(later(200, 8), 20, () => Promise.reject(new Error('tts down')));
  assert.equal(rejected, 8);
});
