import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { VoicebotError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { synthesizeInOrder, type SynthesizedAudio } from '../src/tts/in-order.js';
import type { Tts, TtsRequest } from '../src/tts/tts.js';
import { waitFor } from './support/wait-for.js';

interface Script {
  /** Delay before each piece, per chunk text. */
  delays: Record<string, number[]>;
  failAfter?: Record<string, number>;
}

/** A synthesizer whose timing is scripted per text; it logs what happened when. */
function scriptedTts(script: Script) {
  const events: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const aborted: string[] = [];
  const tts: Tts = {
    async *synthesize(text: string, { signal }: TtsRequest) {
      events.push(`start ${text}`);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const delays = script.delays[text] ?? [1];
        for (let i = 0; i < delays.length; i++) {
          if (script.failAfter?.[text] === i) throw new VoicebotError('tts_failed', `cannot say ${text}`);
          try {
            await sleep(delays[i], undefined, { signal });
          } catch {
            aborted.push(text);
            return;
          }
          events.push(`piece ${text}#${i}`);
          yield Buffer.from(`${text}#${i};`);
        }
        events.push(`end ${text}`);
      } finally {
        inFlight--;
      }
    },
  };
  return { tts, events, aborted, maxInFlight: () => maxInFlight };
}

async function* source(texts: string[], gapMs = 0, yielded: Record<string, number> = {}): AsyncIterable<string> {
  for (const text of texts) {
    if (gapMs > 0) await sleep(gapMs);
    yielded[text] = performance.now();
    yield text;
  }
}

async function drain(iterable: AsyncIterable<SynthesizedAudio>, onItem?: (item: SynthesizedAudio) => void): Promise<SynthesizedAudio[]> {
  const items: SynthesizedAudio[] = [];
  for await (const item of iterable) {
    items.push(item);
    onItem?.(item);
  }
  return items;
}

const audioText = (items: SynthesizedAudio[]): string => items.map((i) => i.pcm.toString()).join('');

test('chunks are synthesized in parallel but delivered strictly in order', async () => {
  // Chunk "b" finishes long before the slow chunk "a": its audio must still come second.
  const { tts, events } = scriptedTts({ delays: { a: [60, 60], b: [5, 5], c: [5] } });
  const out: string[] = [];
  const items = await drain(synthesizeInOrder(source(['a', 'b', 'c']), tts, { sampleRate: 8000, signal: new AbortController().signal, concurrency: 2 }), (item) => {
    out.push(`${item.index}${item.last ? ' last' : ''}`);
  });
  assert.equal(audioText(items), 'a#0;a#1;b#0;b#1;c#0;');
  assert.deepEqual(out, ['0', '0', '0 last', '1', '1', '1 last', '2', '2 last']);
  assert.ok(events.indexOf('end b') < events.indexOf('end a'), 'b was synthesized while a was still running');
  assert.ok(events.indexOf('start b') < events.indexOf('piece a#0'));
});

test("chunk 0's audio streams out before chunk 0 is complete", async () => {
  const { tts, events } = scriptedTts({ delays: { a: [5, 80] } });
  const seen: string[] = [];
  await drain(synthesizeInOrder(source(['a']), tts, { sampleRate: 8000, signal: new AbortController().signal, concurrency: 2 }), (item) => {
    if (item.pcm.length > 0) seen.push(`${item.pcm.toString()} while ${events.includes('end a') ? 'done' : 'running'}`);
  });
  assert.deepEqual(seen, ['a#0; while running', 'a#1; while done']);
});

test('no more than `concurrency` chunks are synthesized at once', async () => {
  const { tts, maxInFlight } = scriptedTts({ delays: { a: [20], b: [20], c: [20], d: [20], e: [20] } });
  const items = await drain(synthesizeInOrder(source(['a', 'b', 'c', 'd', 'e']), tts, { sampleRate: 8000, signal: new AbortController().signal, concurrency: 2 }));
  assert.equal(audioText(items), 'a#0;b#0;c#0;d#0;e#0;');
  assert.equal(maxInFlight(), 2);
});

test('a barge-in aborts every pending synthesis and ends the stream without error', async () => {
  const { tts, aborted } = scriptedTts({ delays: { a: [5, 200], b: [300], c: [300] } });
  const controller = new AbortController();
  const items = await drain(synthesizeInOrder(source(['a', 'b', 'c']), tts, { sampleRate: 8000, signal: controller.signal, concurrency: 3 }), (item) => {
    if (item.pcm.length > 0) controller.abort();
  });
  assert.equal(audioText(items), 'a#0;');
  await waitFor(() => aborted.length === 3, 'every synthesis to be aborted');
  assert.deepEqual(aborted.sort(), ['a', 'b', 'c']);
});

test('a consumer that stops early cancels the syntheses still running', async () => {
  const { tts, aborted } = scriptedTts({ delays: { a: [5, 200], b: [300] } });
  for await (const item of synthesizeInOrder(source(['a', 'b']), tts, { sampleRate: 8000, signal: new AbortController().signal, concurrency: 2 })) {
    assert.equal(item.index, 0);
    break;
  }
  await waitFor(() => aborted.length === 2, 'both syntheses to be aborted');
  assert.deepEqual(aborted.sort(), ['a', 'b']);
});

test('a failed chunk is skipped with its error and the next chunks still play', async () => {
  const { tts } = scriptedTts({ delays: { a: [5], b: [5, 5], c: [5] }, failAfter: { b: 1 } });
  const items = await drain(synthesizeInOrder(source(['a', 'b', 'c']), tts, { sampleRate: 8000, signal: new AbortController().signal, concurrency: 2, log: silentLogger() }));
  assert.equal(audioText(items), 'a#0;b#0;c#0;');
  const bLast = items.find((i) => i.index === 1 && i.last);
  assert.equal(bLast?.error?.code, 'tts_failed');
  assert.equal(items.find((i) => i.index === 2 && i.last)?.error, undefined);
});

test('chunks arriving slowly from the source are each synthesized as soon as they arrive', async () => {
  const { tts } = scriptedTts({ delays: { a: [1], b: [1] } });
  const yielded: Record<string, number> = {};
  const firstAt: number[] = [];
  await drain(synthesizeInOrder(source(['a', 'b'], 300, yielded), tts, { sampleRate: 8000, signal: new AbortController().signal, concurrency: 2 }), (item) => {
    if (item.pcm.length > 0) firstAt.push(performance.now());
  });
  assert.equal(firstAt.length, 2);
  // Chunk "b" comes 300 ms after "a": a's audio must not wait for it.
  assert.ok(firstAt[0]! < yielded.b!, `first chunk's audio came ${Math.round(firstAt[0]! - yielded.b!)} ms after the second chunk arrived`);
});

test('a failing source is reported after the chunks already started', async () => {
  const { tts } = scriptedTts({ delays: { a: [5] } });
  async function* broken(): AsyncIterable<string> {
    yield 'a';
    throw new VoicebotError('llm_failed', 'stream broke');
  }
  const items: SynthesizedAudio[] = [];
  await assert.rejects(async () => {
    for await (const item of synthesizeInOrder(broken(), tts, { sampleRate: 8000, signal: new AbortController().signal, concurrency: 2 })) items.push(item);
  }, (err: unknown) => err instanceof VoicebotError && err.code === 'llm_failed');
  assert.equal(audioText(items), 'a#0;');
});
