import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { toFrames } from '../src/audio/frames.js';
import { rms } from '../src/audio/vad.js';
import { encodeAudio, Kind } from '../src/audiosocket/codec.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { audioOf, startAudioSocketPeer } from './support/audiosocket-peer.js';

const TONE_RMS = 8000 / Math.SQRT2;

function tone(ms: number, rate: number, hz = 440): Buffer {
  const samples = Math.round((rate * ms) / 1000);
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return pcm;
}

/** Writes `pcm` to the socket as paced 20 ms frames of `kind` from 100 ms after the call connects; resolves with the first write's time. */
function speak(socket: Socket, pcm: Buffer, rate: number, kind: number): Promise<number> {
  return new Promise((resolve) => {
    const frames = toFrames(pcm, rate);
    let first = 0;
    const start = performance.now() + 100;
    const tick = (i: number): void => {
      if (i === 0) first = performance.now();
      socket.write(encodeAudio(kind, frames[i]!));
      if (i + 1 < frames.length) setTimeout(() => tick(i + 1), Math.max(0, start + (i + 1) * 20 - performance.now()));
      else resolve(first);
    };
    setTimeout(() => tick(0), 100);
  });
}

function db(ratio: number): number {
  return 20 * Math.log10(ratio);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** When (peer clock) the first sample louder than `level` was captured: a frame sent at S carries the 20 ms before S. */
function onsetAt(frames: { at: number; payload: Buffer }[], rate: number, level = 200): number | undefined {
  for (const frame of frames) {
    for (let i = 0; i < frame.payload.length; i += 2) {
      if (Math.abs(frame.payload.readInt16LE(i)) > level) return frame.at - 20 + (i / 2 / rate) * 1000;
    }
  }
  return undefined;
}

describe('call simulator echo', { concurrency: true }, () => {
  test('what the server says comes back at the given delay and level, added to the caller’s speech', async () => {
    let firstWrite: Promise<number> | undefined;
    const server = await startAudioSocketPeer((socket) => (firstWrite = speak(socket, tone(1200, 8000), 8000, Kind.Slin8k)));
    try {
      const call = await SimulatedCall.connect({ port: server.port, sampleRate: 8000, echo: { delayMs: 80, gainDb: -12 } });
      await sleep(600);
      const caller = Buffer.alloc(8000 * 0.3 * 2);
      for (let i = 0; i < caller.length; i += 4) caller.writeInt16LE(3000, i), caller.writeInt16LE(-3000, i + 2);
      await call.play(caller);
      await firstWrite;
      await sleep(700);
      await call.hangUp();
      await server.sessions[0]!.closedAt;

      const received = audioOf(server.sessions[0]!.seen);
      assert.equal(received.length, call.sent.length, 'every frame the simulator sent reached the peer');
      const onset = onsetAt(received, 8000);
      const lag = onset! - (await firstWrite!);
      assert.ok(lag > 80 - 15 && lag < 80 + 30, `echo ${lag.toFixed(1)} ms after the server spoke`);

      const clipFrames = toFrames(caller, 8000);
      let k = 0;
      const silent: number[] = [];
      const mixed: number[] = [];
      received.forEach((frame, i) => {
        const mark = call.sent[i]!;
        if (mark.clip === 0) {
          // Subtract the caller's own frame: what is left is the echo.
          const echo = Buffer.alloc(frame.payload.length);
          const own = clipFrames[k++]!;
          for (let j = 0; j < echo.length; j += 2) echo.writeInt16LE(frame.payload.readInt16LE(j) - own.readInt16LE(j), j);
          mixed.push(rms(echo));
        } else if (frame.at - 20 > onset! + 40 && frame.at < onset! + 1000) silent.push(rms(frame.payload));
      });
      assert.equal(k, clipFrames.length);
      const want = TONE_RMS * 10 ** (-12 / 20);
      assert.ok(silent.length > 20 && Math.abs(db(median(silent) / want)) < 1, `echo over silence ${median(silent).toFixed(0)} RMS, want ${want.toFixed(0)}`);
      assert.ok(Math.abs(db(median(mixed) / want)) < 1, `echo under the caller ${median(mixed).toFixed(0)} RMS, want ${want.toFixed(0)}`);
    } finally {
      await server.close();
    }
  });

  test('a leg without line silence sends frames only while the echo sounds, resampled from 16 kHz frames', async () => {
    let firstWrite: Promise<number> | undefined;
    const server = await startAudioSocketPeer((socket) => (firstWrite = speak(socket, tone(600, 16000), 16000, Kind.Slin16k)));
    try {
      const call = await SimulatedCall.connect({ port: server.port, sampleRate: 8000, fillSilence: false, echo: { delayMs: 40, gainDb: -6 } });
      await sleep(100);
      await firstWrite;
      await sleep(900);
      await call.hangUp();
      await server.sessions[0]!.closedAt;
      const received = audioOf(server.sessions[0]!.seen);
      assert.ok(received.every((f) => f.kind === Kind.Slin8k && f.payload.length === 320));
      const lag = onsetAt(received, 8000)! - (await firstWrite!);
      assert.ok(lag > 40 - 15 && lag < 40 + 30, `echo ${lag.toFixed(1)} ms after the server spoke`);
      assert.ok(received.length >= 28 && received.length <= 34, `${received.length} frames for 600 ms of echo`);
      const want = TONE_RMS * 10 ** (-6 / 20);
      const level = median(received.map((f) => rms(f.payload)));
      assert.ok(Math.abs(db(level / want)) < 1, `echo ${level.toFixed(0)} RMS, want ${want.toFixed(0)}`);
    } finally {
      await server.close();
    }
  });

  test('echo settings out of range are refused before connecting', async () => {
    await assert.rejects(SimulatedCall.connect({ port: 1, echo: { delayMs: -5, gainDb: -12 } }), /delayMs/);
    await assert.rejects(SimulatedCall.connect({ port: 1, echo: { delayMs: 60, gainDb: 3 } }), /gainDb/);
  });
});
