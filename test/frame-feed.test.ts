import { test } from 'node:test';
import assert from 'node:assert/strict';
import { feedFrames, type FrameListener } from '../src/asr/frame-feed.js';
import { AsyncQueue } from '../src/call/async-queue.js';

const frame = (n: number): Buffer => Buffer.from([n, 0]);

function recorder(): FrameListener & { seen: number[]; ends: number; failures: unknown[]; done: Promise<void> } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const r = {
    seen: [] as number[],
    ends: 0,
    failures: [] as unknown[],
    done,
    frame: (f: Buffer) => void r.seen.push(f[0]!),
    end: () => {
      r.ends++;
      finish();
    },
    fail: (err: unknown) => {
      r.failures.push(err);
      finish();
    },
  };
  return r;
}

test('a subscribed queue hands over what was queued, then each frame as it is pushed, then the end once', () => {
  const queue = new AsyncQueue<Buffer>();
  queue.push(frame(1));
  queue.push(frame(2));
  const r = recorder();
  feedFrames(queue, r);
  assert.deepEqual(r.seen, [1, 2]);
  queue.push(frame(3));
  // Synchronously, inside push: no promise per frame.
  assert.deepEqual(r.seen, [1, 2, 3]);
  queue.end();
  queue.end();
  queue.push(frame(4));
  assert.deepEqual(r.seen, [1, 2, 3]);
  assert.equal(r.ends, 1);
});

test('stopping a subscribed feed ends the queue, and a second consumer is refused', () => {
  const queue = new AsyncQueue<Buffer>();
  const r = recorder();
  const stop = feedFrames(queue, r);
  assert.throws(() => queue.subscribe({ frame() {}, end() {} }), /already has a consumer/);
  stop();
  assert.equal(queue.ended, true);
  queue.push(frame(1));
  assert.deepEqual(r.seen, []);
  assert.equal(r.ends, 0, 'a consumer that stopped is not told of the end');
});

test('a listener that throws on a pushed frame is told it failed, and the producer carries on', () => {
  const queue = new AsyncQueue<Buffer>();
  const r = recorder();
  feedFrames(queue, { ...r, frame: () => { throw new Error('send failed'); } });
  assert.doesNotThrow(() => queue.push(frame(1)));
  assert.equal((r.failures[0] as Error).message, 'send failed');
});

test('a source that can only be iterated is fed frame by frame, and its failure is reported', async () => {
  async function* source(): AsyncGenerator<Buffer> {
    yield frame(1);
    yield frame(2);
    throw new Error('socket reset');
  }
  const r = recorder();
  feedFrames(source(), r);
  await r.done;
  assert.deepEqual(r.seen, [1, 2]);
  assert.equal(r.ends, 0);
  assert.equal((r.failures[0] as Error).message, 'socket reset');

  const ended = recorder();
  feedFrames((async function* () { yield frame(7); })(), ended);
  await ended.done;
  assert.deepEqual([ended.seen, ended.ends], [[7], 1]);
});

test('stopping an iterated feed stops reading it', async () => {
  let returned = false;
  let pulls = 0;
  const source: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => ({ value: frame(++pulls), done: false }),
      return: async () => {
        returned = true;
        return { value: undefined, done: true };
      },
    }),
  };
  const r = recorder();
  const stop = feedFrames(source, { ...r, frame: (f) => { r.frame(f); if (r.seen.length === 3) stop(); } });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r.seen, [1, 2, 3]);
  assert.equal(returned, true);
});
