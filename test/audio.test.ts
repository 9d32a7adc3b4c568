import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { concatPcm, dbfs, isVoiced, silence, toFrames, voicedEndMs } from '../src/audio/frames.js';
import { createResampler, resample } from '../src/audio/resample.js';
import { encodeWav, parseWav, readWav, writeWav } from '../src/audio/wav.js';
import { rms } from '../src/audio/vad.js';

const SHARED = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');

function sine(rate: number, hz: number, ms: number, amplitude = 10_000): Buffer {
  const n = Math.round((rate * ms) / 1000);
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return pcm;
}

/** Frequency from upward zero crossings, ignoring `edgeMs` at both ends. */
function frequency(pcm: Buffer, rate: number, edgeMs = 50): number {
  const skip = Math.round((rate * edgeMs) / 1000);
  const n = pcm.length / 2 - skip;
  let crossings = 0;
  let prev = pcm.readInt16LE(skip * 2);
  for (let i = skip + 1; i < n; i++) {
    const v = pcm.readInt16LE(i * 2);
    if (prev < 0 && v >= 0) crossings++;
    prev = v;
  }
  return crossings / ((n - skip) / rate);
}

function middle(pcm: Buffer, rate: number, edgeMs = 50): Buffer {
  const skip = Math.round((rate * edgeMs) / 1000) * 2;
  return pcm.subarray(skip, pcm.length - skip);
}

test('a 1 kHz tone keeps its frequency and level through 16k → 8k → 16k', () => {
  const tone = sine(16000, 1000, 1000);
  const back = resample(resample(tone, 16000, 8000), 8000, 16000);
  assert.equal(back.length, tone.length);
  assert.ok(Math.abs(frequency(back, 16000) - 1000) < 5, `frequency ${frequency(back, 16000)}`);
  const ratio = rms(middle(back, 16000)) / rms(middle(tone, 16000));
  assert.ok(ratio > 0.98 && ratio < 1.02, `level ratio ${ratio}`);
});

test('22050 → 8000 removes a 6 kHz tone instead of folding it into the band', () => {
  const out = resample(sine(22050, 6000, 500), 22050, 8000);
  assert.equal(out.length, 8000);
  assert.ok(dbfs(middle(out, 8000)) < -60, `residue ${dbfs(middle(out, 8000))} dBFS`);
  const kept = resample(sine(22050, 1000, 500), 22050, 8000);
  assert.ok(Math.abs(frequency(kept, 8000) - 1000) < 5);
});

test('streaming in odd-sized chunks gives the same samples as one shot', () => {
  const input = sine(24000, 440, 300);
  const expected = resample(input, 24000, 16000);
  const r = createResampler(24000, 16000);
  const parts: Buffer[] = [];
  let offset = 0;
  for (const size of [1, 3, 480, 7, 961, 2, 5000]) {
    parts.push(r.process(input.subarray(offset, offset + size)));
    offset += size;
  }
  parts.push(r.process(input.subarray(offset)), r.flush());
  assert.deepEqual(Buffer.concat(parts), expected);
});

test('a resampler is reusable after flush and equal rates pass audio through', () => {
  const r = createResampler(8000, 48000);
  const a = Buffer.concat([r.process(sine(8000, 300, 100)), r.flush()]);
  const b = Buffer.concat([r.process(sine(8000, 300, 100)), r.flush()]);
  assert.deepEqual(a, b);
  assert.equal(a.length, 4800 * 2);
  const same = createResampler(16000, 16000);
  const pcm = sine(16000, 500, 20);
  assert.deepEqual(Buffer.concat([same.process(pcm.subarray(0, 5)), same.process(pcm.subarray(5)), same.flush()]), pcm);
});

test('impossible rates are refused with a clear error', () => {
  assert.throws(() => createResampler(0, 8000), /fromRate must be an integer/);
  assert.throws(() => createResampler(8000, 12.5), /toRate must be an integer/);
});

test('the shared WAV fixtures read as mono s16le at their header rate', async () => {
  const narrow = await readWav(join(SHARED, 'audio', 'en-order-8k.wav'));
  const wide = await readWav(join(SHARED, 'audio', 'en-order-16k.wav'));
  assert.equal(narrow.sampleRate, 8000);
  assert.equal(wide.sampleRate, 16000);
  assert.ok(Math.abs(narrow.pcm.length / 2 / 8000 - 3.34) < 0.01);
  assert.ok(Math.abs(wide.pcm.length / 2 / 16000 - 3.34) < 0.01);
});

test('writeWav and readWav round-trip, and stereo with a LIST chunk is mixed down', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-'));
  try {
    const pcm = sine(16000, 440, 100);
    await writeWav(join(dir, 'a.wav'), pcm, 16000);
    assert.deepEqual(await readWav(join(dir, 'a.wav')), { sampleRate: 16000, pcm });

    const stereo = Buffer.alloc(8);
    stereo.writeInt16LE(1000, 0);
    stereo.writeInt16LE(3000, 2);
    stereo.writeInt16LE(-100, 4);
    stereo.writeInt16LE(-300, 6);
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.from([0])]);
    const mono = encodeWav(stereo, 22050);
    const fmt = Buffer.from(mono.subarray(12, 36));
    fmt.writeUInt16LE(2, 10); // channels
    fmt.writeUInt32LE(22050 * 4, 16);
    fmt.writeUInt16LE(4, 20);
    const file = Buffer.concat([mono.subarray(0, 12), list, fmt, mono.subarray(36)]);
    await writeFile(join(dir, 'b.wav'), file);
    const read = await readWav(join(dir, 'b.wav'));
    assert.equal(read.sampleRate, 22050);
    assert.deepEqual([read.pcm.readInt16LE(0), read.pcm.readInt16LE(2)], [2000, -200]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('non-WAV and unsupported WAV data fail with an error that says why', async () => {
  assert.throws(() => parseWav(Buffer.from('hello world, not audio')), /not a WAV file/);
  const float = encodeWav(Buffer.alloc(8), 8000);
  float.writeUInt16LE(3, 20);
  assert.throws(() => parseWav(float), /not integer PCM/);
  const eightBit = encodeWav(Buffer.alloc(8), 8000);
  eightBit.writeUInt16LE(8, 34);
  assert.throws(() => parseWav(eightBit), /8-bit samples/);
  assert.throws(() => parseWav(encodeWav(Buffer.alloc(8), 8000).subarray(0, 36)), /no data chunk/);
  await assert.rejects(readWav('/nonexistent/file.wav'), /cannot read \/nonexistent\/file\.wav/);
});

test('PCM splits into 20 ms frames with the last one padded', () => {
  const frames = toFrames(Buffer.alloc(320 * 2 + 100, 1), 8000);
  assert.equal(frames.length, 3);
  assert.ok(frames.every((f) => f.length === 320));
  assert.equal(frames[2]!.readUInt8(99), 1);
  assert.equal(frames[2]!.readUInt8(100), 0);
  assert.equal(concatPcm(frames).length, 960);
  assert.equal(silence(20, 16000).length, 640);
});

test('the end of speech is found by energy, not by file length', async () => {
  const speech = sine(8000, 300, 400, 4000);
  const pcm = Buffer.concat([silence(100, 8000), speech, silence(500, 8000)]);
  assert.equal(voicedEndMs(pcm, 8000), 500);
  assert.equal(isVoiced(silence(20, 8000)), false);
  assert.equal(isVoiced(speech.subarray(0, 320)), true);
  const wav = await readWav(join(SHARED, 'audio', 'ru-wait-8k.wav'));
  const end = voicedEndMs(wav.pcm, 8000);
  assert.ok(end > 1000 && end < 1780, `voiced end ${end}`);
});
