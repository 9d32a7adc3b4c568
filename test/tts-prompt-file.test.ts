import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dbfs } from '../src/audio/frames.js';
import { encodeWav } from '../src/audio/wav.js';
import { VoicebotError } from '../src/errors.js';
import { loadPromptFile } from '../src/tts/prompt-file.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tts-prompt-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tone(seconds: number, rate: number, hz = 440): Buffer {
  const pcm = Buffer.alloc(Math.round(seconds * rate) * 2);
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(10000 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return pcm;
}

function stereoWav(left: Buffer, right: Buffer, rate: number): Buffer {
  const frames = left.length / 2;
  const data = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    data.writeInt16LE(left.readInt16LE(i * 2), i * 4);
    data.writeInt16LE(right.readInt16LE(i * 2), i * 4 + 2);
  }
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8, 'ascii');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(2, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * 4, 28);
  head.writeUInt16LE(4, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36, 'ascii');
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

const ffmpegInstalled = spawnSync('ffmpeg', ['-version']).error === undefined;

function assertPromptError(pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VoicebotError);
    assert.equal(err.code, 'prompt_unreadable');
    assert.match(err.message, pattern);
    return true;
  };
}

test('a WAV prompt is resampled to the call rate', async () => {
  const path = join(dir, 'greeting.wav');
  await writeFile(path, encodeWav(tone(1, 22050), 22050));
  for (const rate of [8000, 16000]) {
    const pcm = await loadPromptFile(path, rate);
    assert.ok(Math.abs(pcm.length / 2 - rate) < rate * 0.01, `one second at ${rate} Hz, got ${pcm.length / 2} samples`);
    assert.ok(dbfs(pcm) > -15);
  }
});

test('a stereo WAV prompt is mixed down to mono', async () => {
  const path = join(dir, 'stereo.wav');
  const left = tone(0.5, 16000);
  await writeFile(path, stereoWav(left, left, 16000));
  const pcm = await loadPromptFile(path, 16000);
  assert.equal(pcm.length, left.length);
  assert.ok(Math.abs(dbfs(pcm) - dbfs(left)) < 0.5, 'the mono mix keeps the level');
});

test('a missing prompt file is a clear prompt_unreadable error', async () => {
  await assert.rejects(loadPromptFile(join(dir, 'nope.wav'), 8000), assertPromptError(/nope\.wav.*ENOENT/));
});

test('MP3 and Ogg prompts decode through ffmpeg, or fail clearly without it', async () => {
  const wavPath = join(dir, 'source.wav');
  await writeFile(wavPath, encodeWav(tone(1, 16000), 16000));
  if (!ffmpegInstalled) {
    const mp3 = join(dir, 'prompt.mp3');
    await writeFile(mp3, Buffer.from([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0]));
    await assert.rejects(loadPromptFile(mp3, 8000), assertPromptError(/ffmpeg not found: install ffmpeg to use MP3\/Ogg prompts/));
    return;
  }
  for (const ext of ['mp3', 'ogg']) {
    const path = join(dir, `prompt.${ext}`);
    const made = spawnSync('ffmpeg', ['-y', '-loglevel', 'error', '-i', wavPath, path]);
    assert.equal(made.status, 0, `ffmpeg could not make the ${ext} file: ${made.stderr?.toString()}`);
    const pcm = await loadPromptFile(path, 8000);
    assert.ok(Math.abs(pcm.length / 2 - 8000) < 8000 * 0.1, `about one second of ${ext} at 8 kHz, got ${pcm.length / 2} samples`);
    assert.ok(dbfs(pcm) > -20, `${ext} decoded to audible audio`);
  }
});

test('a file that is not audio is rejected clearly', async () => {
  const path = join(dir, 'notes.txt');
  await writeFile(path, 'this is not audio at all');
  await assert.rejects(loadPromptFile(path, 8000), assertPromptError(ffmpegInstalled ? /cannot be decoded/ : /ffmpeg not found/));
});

test('a broken WAV header is rejected clearly', async () => {
  const path = join(dir, 'broken.wav');
  await writeFile(path, Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE', 'ascii'), Buffer.from('fmt \x10\0\0\0', 'latin1'), Buffer.alloc(4)]));
  await assert.rejects(loadPromptFile(path, 8000), assertPromptError(/broken\.wav/));
});
