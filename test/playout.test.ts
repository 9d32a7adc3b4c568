import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnergyVad, rms } from '../src/audio/vad.js';
import { ulawToPcm } from '../src/audio/mulaw.js';
import { slinFormat, ulawFormat } from '../src/audiosocket/format.js';
import { createPlayout, type Playout } from '../src/audiosocket/playout.js';
import { waitFor } from './support/wait-for.js';

interface Written {
  at: number;
  frame: Buffer;
}

function recorder(blocked = () => false): { frames: Written[]; sink: { write(f: Buffer): boolean; blocked(): boolean } } {
  const frames: Written[] = [];
  return { frames, sink: { write: (frame) => (frames.push({ at: performance.now(), frame }), true), blocked } };
}

/** PCM of `ms` at `rate` whose every sample is `value`. */
function tone(ms: number, rate: number, value = 1000): Buffer {
  const pcm = Buffer.alloc(Math.round((rate * ms) / 1000) * 2);
  for (let i = 0; i < pcm.length; i += 2) pcm.writeInt16LE(value, i);
  return pcm;
}

function isSilence(frame: Buffer): boolean {
  return frame.subarray(3).every((b) => b === 0);
}

async function withPlayout<T>(playout: Playout, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    playout.stop();
  }
}

const F8 = slinFormat(8000, 0x10, true);
const F16 = slinFormat(16000, 0x12, true);

describe('playout', { concurrency: true }, () => {
  test('writes one silence frame per 20 ms at the call rate and kind', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F16);
    const t0 = performance.now();
    await withPlayout(playout, async () => {
      playout.start();
      await waitFor(() => frames.length >= 25, 'frames');
    });
    const elapsed = performance.now() - t0;
    const n = frames.length;
    assert.ok(n <= elapsed / 20 + 3, `${n} frames in ${elapsed} ms: faster than real time`);
    // On a loaded machine the clock may re-anchor; every frame plus the skipped time accounts for the elapsed time.
    const accounted = n * 20 + playout.stats.lostMs;
    assert.ok(Math.abs(accounted - elapsed) <= 80, `accounted ${accounted} ms of ${elapsed} ms`);
    for (const { frame } of frames) {
      assert.equal(frame.length, 643);
      assert.equal(frame[0], 0x12);
      assert.equal(frame.readUInt16BE(1), 640);
      assert.ok(isSilence(frame));
    }
  });

  test('plays queued audio in order, reports the first frame of each tag and what was played', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    const starts: [string, number][] = [];
    playout.on('tagStart', (tag, at) => starts.push([tag, at]));
    await withPlayout(playout, async () => {
      playout.enqueue(tone(60, 8000, 100), 'a');
      playout.enqueue(tone(40, 8000, 200), 'b');
      assert.equal(playout.queuedMs, 100);
      assert.equal(playout.idle, false);
      const before = performance.now();
      playout.start();
      await playout.whenIdle();
      assert.equal(playout.queuedMs, 0);
      assert.deepEqual(starts.map(([t]) => t), ['a', 'b']);
      assert.ok(starts[0]![1] >= before);
      assert.ok(starts[1]![1] - starts[0]![1] >= 40, 'b starts three frames after a');
      assert.equal(playout.playedMs('a'), 60);
      assert.equal(playout.playedMs('b'), 40);
      assert.equal(playout.playedMs('unknown'), 0);
    });
    const audio = frames.filter((w) => !isSilence(w.frame)).map((w) => w.frame.readInt16LE(3));
    assert.deepEqual(audio, [100, 100, 100, 200, 200]);
    assert.equal(playout.stats.audioFrames, 5);
  });

  test('a partial last frame is padded with silence, never sent short', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.enqueue(tone(25, 8000), 't');
      playout.start();
      await playout.whenIdle();
    });
    const audio = frames.filter((w) => !isSilence(w.frame));
    assert.equal(audio.length, 2);
    const last = audio[1]!.frame;
    assert.equal(last.length, 323);
    assert.equal(last.readInt16LE(3 + 39 * 2), 1000);
    assert.equal(last.readInt16LE(3 + 40 * 2), 0);
    assert.ok(frames.every((w) => w.frame.length === 323));
  });

  test('pieces smaller than a frame are joined, not padded, while a stream is open', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.start();
      playout.beginStream();
      for (let i = 0; i < 10; i++) playout.enqueue(tone(7, 8000, 500), 's');
      playout.endStream();
      await playout.whenIdle();
    });
    const audio = frames.filter((w) => !isSilence(w.frame));
    assert.equal(audio.length, 4, '70 ms = 3 full frames + 1 padded');
    for (const w of audio.slice(0, 3)) assert.ok(w.frame.subarray(3).equals(tone(20, 8000, 500)));
  });

  test('clear() makes the very next frame silence and reports what was heard', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.enqueue(tone(2000, 8000), 'long');
      playout.start();
      await waitFor(() => playout.playedMs('long') >= 60, 'some of the reply played');
      const cleared = playout.clear();
      const written = frames.length;
      assert.equal(cleared.length, 1);
      assert.equal(cleared[0]!.tag, 'long');
      assert.equal(cleared[0]!.playedMs, playout.playedMs('long'));
      assert.ok(cleared[0]!.playedMs < 2000);
      assert.equal(cleared[0]!.playedMs + cleared[0]!.droppedMs, 2000);
      assert.equal(playout.queuedMs, 0);
      await waitFor(() => frames.length >= written + 3, 'frames after the clear');
      assert.ok(frames.slice(written).every((w) => isSilence(w.frame)));
    });
  });

  test('holds the queue while the socket is not drained and counts the skipped ticks', async () => {
    let blocked = false;
    const { frames, sink } = recorder(() => blocked);
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.enqueue(tone(100, 8000), 'x');
      playout.start();
      blocked = true;
      const written = frames.length;
      assert.ok(written >= 1 && playout.playedMs('x') < 100, 'the first frame went out at once');
      await waitFor(() => playout.stats.backpressureSkips >= 5, 'skipped ticks');
      assert.equal(frames.length, written, 'nothing written while the socket is not drained');
      assert.ok(playout.playedMs('x') < 100, 'the queue is held');
      blocked = false;
      await playout.whenIdle();
      assert.equal(playout.playedMs('x'), 100);
    });
  });

  test('counts an underrun only once a stream has started playing', async () => {
    const { sink } = recorder();
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.start();
      playout.beginStream();
      await waitFor(() => playout.stats.silenceFrames >= 5, 'ticks before the first audio');
      assert.equal(playout.stats.underruns, 0, 'waiting for the first audio is not an underrun');
      playout.enqueue(tone(20, 8000), 'r');
      await waitFor(() => playout.stats.underruns >= 2, 'underruns after the audio ran out');
      playout.endStream();
      const before = playout.stats.underruns;
      const ticks = playout.stats.framesWritten;
      await waitFor(() => playout.stats.framesWritten >= ticks + 3, 'ticks after the stream ended');
      assert.equal(playout.stats.underruns, before);
    });
  });

  test('μ-law calls get 160-byte μ-law frames labelled 0x10', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, ulawFormat(true));
    await withPlayout(playout, async () => {
      playout.enqueue(tone(40, 8000, 4000), 'u');
      playout.start();
      await playout.whenIdle();
      await waitFor(() => frames.length >= 3 && frames.at(-1)!.frame.subarray(3).every((b) => b === 0xff), 'a silence frame after the audio');
    });
    for (const { frame } of frames) {
      assert.equal(frame[0], 0x10);
      assert.equal(frame.readUInt16BE(1), 160);
      assert.equal(frame.length, 163);
    }
    const decoded = ulawToPcm(frames[0]!.frame.subarray(3)).readInt16LE(0);
    assert.ok(Math.abs(decoded - 4000) < 200, `decoded ${decoded}`);
    assert.ok(frames.at(-1)!.frame.subarray(3).every((b) => b === 0xff), 'μ-law silence');
  });

  test('a format change with audio queued resamples it: same pitch, same length, new frames', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    const sine = (ms: number, rate: number, hz: number): Buffer => {
      const pcm = Buffer.alloc(Math.round((rate * ms) / 1000) * 2);
      for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
      return pcm;
    };
    await withPlayout(playout, async () => {
      playout.enqueue(sine(400, 8000, 440), 'reply');
      playout.start();
      await waitFor(() => playout.playedMs('reply') >= 100, 'some of the reply played');
      playout.setFormat(F16);
      const queued = playout.queuedMs;
      assert.ok(Math.abs(queued + playout.playedMs('reply') - 400) <= 2, `${queued} ms queued after the switch`);
      // Audio of the old rate still arriving is resampled on the way in.
      playout.enqueue(sine(200, 8000, 440), 'late', 8000);
      await playout.whenIdle();
    });
    assert.ok(Math.abs(playout.playedMs('reply') - 400) <= 2, `${playout.playedMs('reply')} ms of 400 played`);
    assert.ok(Math.abs(playout.playedMs('late') - 200) <= 2, `${playout.playedMs('late')} ms of 200 played`);
    const wide = frames.filter((w) => w.frame[0] === 0x12 && !isSilence(w.frame));
    assert.ok(frames.slice(frames.indexOf(wide[0]!)).every((w) => w.frame[0] === 0x12 && w.frame.length === 643), 'after the switch only 16 kHz frames');
    // 440 Hz at 16 kHz: zero crossings of the 16 kHz frames give the true frequency, not 880 Hz.
    const pcm = Buffer.concat(wide.slice(1, -1).map((w) => w.frame.subarray(3)));
    let crossings = 0;
    for (let i = 2; i < pcm.length; i += 2) if ((pcm.readInt16LE(i - 2) < 0) !== (pcm.readInt16LE(i) < 0)) crossings++;
    const hz = crossings / 2 / (pcm.length / 2 / 16000);
    assert.ok(Math.abs(hz - 440) < 15, `${hz} Hz after the switch`);
  });

  test('reply audio after silence goes out at once and the clock re-phases from it', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.start();
      await waitFor(() => frames.length >= 3, 'silence frames');
      // Land between two ticks: the next silence frame is due 5–15 ms from now.
      await sleep(7);
      const enqueuedAt = performance.now();
      playout.enqueue(tone(100, 8000), 'reply');
      const first = frames.find((w) => !isSilence(w.frame));
      assert.ok(first, 'the first reply frame is written synchronously by enqueue');
      assert.ok(first.at - enqueuedAt < 2, `${first.at - enqueuedAt} ms after enqueue`);
      await playout.whenIdle();
    });
    const audio = frames.filter((w) => !isSilence(w.frame));
    assert.equal(audio.length, 5);
    // Paced from the first reply frame: frame k leaves about k × 20 ms after it, never earlier.
    for (let k = 1; k < audio.length; k++) {
      const offset = audio[k]!.at - audio[0]!.at;
      assert.ok(offset >= k * 20 - 2, `frame ${k} at +${offset.toFixed(1)} ms: ahead of real time`);
    }
  });

  test('playouts started at different times keep their own phase on the shared clock', async () => {
    const a = recorder();
    const b = recorder();
    const pa = createPlayout(a.sink, F8);
    const pb = createPlayout(b.sink, F8);
    try {
      pa.start();
      await sleep(7);
      pb.start();
      await waitFor(() => b.frames.length >= 20, 'frames of the second playout');
    } finally {
      pa.stop();
      pb.stop();
    }
    // Each frame of B against A's phase, as a signed distance from the phase B started with (so 19.9 and 0.1 are 0.2 apart):
    // the median stays within the clock's 2 ms grid of it.
    const started = (b.frames[0]!.at - a.frames[0]!.at) % 20;
    const drift = b.frames.map((w) => ((((w.at - a.frames[0]!.at - started) % 20) + 30) % 20) - 10).sort((x, y) => x - y);
    const median = drift[drift.length >> 1]!;
    assert.ok(Math.abs(median) <= 3, `B's frames ${median.toFixed(1)} ms off the phase it started with (${started.toFixed(1)} ms into A's 20 ms)`);
  });

  test('nothing is written after stop(), and whenIdle() resolves', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    playout.enqueue(tone(1000, 8000));
    playout.start();
    await waitFor(() => frames.length >= 2, 'frames before the stop');
    const idle = playout.whenIdle();
    playout.stop();
    await idle;
    const n = frames.length;
    playout.enqueue(tone(100, 8000));
    assert.equal(playout.queuedMs, 0, 'audio after stop() is not queued');
    // Nothing can be shown to happen without letting time pass: three frame slots.
    await sleep(60);
    assert.equal(frames.length, n);
    assert.equal(playout.running, false);
  });

  test("emits 'idle' when the queue drains", async () => {
    const { sink } = recorder();
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.enqueue(tone(40, 8000));
      playout.start();
      await once(playout, 'idle');
      assert.equal(playout.idle, true);
    });
  });
});

describe('playout clock', () => {
  // Blocks the event loop, so it runs alone, not beside the timing tests above.
  test('after a stall it re-anchors instead of bursting', async () => {
    const { frames, sink } = recorder();
    const playout = createPlayout(sink, F8);
    await withPlayout(playout, async () => {
      playout.start();
      await waitFor(() => frames.length >= 3, 'frames before the stall');
      const end = performance.now() + 250;
      while (performance.now() < end); // block the event loop
      const resumed = performance.now();
      await waitFor(() => frames.filter((w) => w.at >= resumed).length >= 2, 'frames after the stall');
      const burst = frames.filter((w) => w.at >= resumed && w.at < resumed + 15).length;
      assert.ok(burst <= 1, `${burst} frames right after the stall`);
      assert.ok(playout.stats.reanchors >= 1);
    });
  });

});

describe('energy VAD', () => {
  test('rms of a constant signal is its magnitude', () => {
    assert.equal(rms(tone(20, 8000, -300)), 300);
    assert.equal(rms(Buffer.alloc(0)), 0);
  });

  test('starts after the minimum speech and ends after the hangover', () => {
    const vad = new EnergyVad({ threshold: 500, hangoverMs: 100, minSpeechMs: 40 });
    const loud = tone(20, 8000, 2000);
    const quiet = tone(20, 8000, 10);
    assert.equal(vad.push(loud, 8000), undefined);
    assert.equal(vad.push(loud, 8000), 'start');
    assert.equal(vad.speaking, true);
    for (let i = 0; i < 4; i++) assert.equal(vad.push(quiet, 8000), undefined);
    assert.equal(vad.push(loud, 8000), undefined, 'voice inside the hangover keeps the utterance');
    for (let i = 0; i < 4; i++) assert.equal(vad.push(quiet, 8000), undefined);
    assert.equal(vad.push(quiet, 8000), 'end');
    assert.equal(vad.speaking, false);
  });

  test('a single click does not start speech, and reset() ends an open utterance', () => {
    const vad = new EnergyVad({ threshold: 500, hangoverMs: 100 });
    assert.equal(vad.push(tone(20, 16000, 9000), 16000), undefined);
    assert.equal(vad.push(tone(20, 16000, 0), 16000), undefined);
    assert.equal(vad.reset(), undefined);
    for (let i = 0; i < 3; i++) vad.push(tone(20, 16000, 9000), 16000);
    assert.equal(vad.speaking, true);
    assert.equal(vad.reset(), 'end');
  });
});
