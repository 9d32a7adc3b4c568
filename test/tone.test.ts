import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pcmToUlaw } from '../src/audio/mulaw.js';
import { decodeFrame, heardAudio } from '../src/sim/received-audio.js';
import { frameSound, measurePcmTone, measureTone, toneByRate, type ToneReport } from '../src/sim/tone.js';

/** `ms` of a sine at `hz`, sampled at `rate`, starting at sample `from` of the same sine. */
function sine(hz: number, rate: number, ms: number, from = 0, amplitude = 8000): Buffer {
  const samples = Math.round((rate * ms) / 1000);
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * hz * (from + i)) / rate)), i * 2);
  return pcm;
}

/** Cuts PCM into frames of `bytes` labelled `kind`. */
function frames(kind: number, pcm: Buffer, bytes: number): { kind: number; payload: Buffer }[] {
  const out = [];
  for (let offset = 0; offset < pcm.length; offset += bytes) out.push({ kind, payload: pcm.subarray(offset, offset + bytes) });
  return out;
}

function near(actual: number | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected} ± ${tolerance}`);
}

function assertTone(report: ToneReport, hz: number, soundMs: number): void {
  near(report.toneHz, hz, hz * 0.005, 'tone Hz');
  near(report.soundMs, soundMs, 0.5, 'sound ms');
}

describe('tone check', () => {
  test('reads a tone at its own rate: 8 kHz 0x10 and 16 kHz 0x12 frames', () => {
    assertTone(measureTone(frames(0x10, sine(440, 8000, 1000), 320)), 440, 1000);
    assertTone(measureTone(frames(0x12, sine(440, 16000, 1000), 640)), 440, 1000);
    assertTone(measureTone(frames(0x12, sine(1237, 16000, 300), 640)), 1237, 300);
    assertTone(measureTone(frames(0x16, sine(440, 48000, 200), 1920)), 440, 200);
  });

  test('a stream that switches from 0x10 to 0x12 mid-way reads each frame at its own rate', () => {
    const stream = [...frames(0x10, sine(440, 8000, 600), 320), ...frames(0x12, sine(440, 16000, 900, 9600), 640)];
    assertTone(measureTone(stream), 440, 1500);
    const heard = heardAudio(stream);
    assert.equal(heard.sampleRate, 16000);
    assertTone(measurePcmTone(heard.pcm, heard.sampleRate), 440, 1500);
  });

  test('by rate, each part of a switching stream reads apart: 8 kHz audio in 0x12 frames shows as the octave-high part', () => {
    const pcm = sine(440, 8000, 1000);
    const stream = [...frames(0x10, pcm.subarray(0, 8000), 320), ...frames(0x12, pcm.subarray(8000), 640)];
    const sounds = stream.map((f) => frameSound(decodeFrame(f.kind, f.payload).pcm, decodeFrame(f.kind, f.payload).sampleRate));
    const parts = toneByRate([...sounds, ...sounds]);
    assert.deepEqual([...parts.keys()], [8000, 16000]);
    assertTone(parts.get(8000)!, 440, 1000);
    assertTone(parts.get(16000)!, 880, 500);
  });

  test('160-byte 0x10 payloads are decoded as μ-law', () => {
    const ulaw = pcmToUlaw(sine(440, 8000, 1000));
    assertTone(measureTone(frames(0x10, ulaw, 160)), 440, 1000);
    assertTone(measureTone(frames(0x10, ulaw, 160), { ulaw: true }), 440, 1000);
    assert.equal(decodeFrame(0x10, Buffer.alloc(160), { ulaw: false }).pcm.length, 160, 'a slin line reads 160 bytes as 10 ms of slin');
  });

  test('8 kHz audio labelled 0x12 reads an octave high and half as long', () => {
    assertTone(measureTone(frames(0x12, sine(440, 8000, 2900), 640)), 880, 1450);
    assertTone(measureTone(frames(0x12, sine(440, 8000, 2900), 320)), 880, 1450);
  });

  test('16 kHz audio labelled 0x10 reads an octave low and twice as long, unless the line is an old 16 kHz Asterisk', () => {
    const pcm = sine(440, 16000, 1000);
    assertTone(measureTone(frames(0x10, pcm, 640)), 220, 2000);
    assertTone(measureTone(frames(0x10, pcm, 640), { slin8kRate: 16000 }), 440, 1000);
  });

  test('sound is counted by energy: silence and a hum below the threshold are not sound, nor their crossings', () => {
    const hum = sine(3000, 8000, 300, 0, 20);
    const stream = [
      ...frames(0x10, sine(440, 8000, 400), 320),
      ...frames(0x10, Buffer.alloc(4800), 320),
      ...frames(0x10, hum, 320),
      ...frames(0x10, sine(440, 8000, 600, 3200), 320),
    ];
    const report = measureTone(stream);
    assertTone(report, 440, 1000);
    near(report.audioMs, 1600, 0.5, 'audio ms');
    assert.equal(report.voicedFrames, 50);
  });

  test('silence alone has no tone, and a non-audio kind is a clear error', () => {
    const report = measureTone(frames(0x10, Buffer.alloc(3200), 320));
    assert.deepEqual(report, { toneHz: undefined, soundMs: 0, audioMs: 200, voicedFrames: 0 });
    assert.throws(() => decodeFrame(0x03, Buffer.alloc(1)), { name: 'RangeError', message: '0x03 is not an audio kind' });
  });

  test('plain PCM is judged in 20 ms frames, the last one as long as it is', () => {
    assertTone(measurePcmTone(sine(440, 16000, 310), 16000), 440, 310);
    assertTone(measurePcmTone(sine(880, 8000, 75), 8000), 880, 75);
  });
});
