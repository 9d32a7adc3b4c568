import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { isVoiced } from '../src/audio/frames.js';
import { pcmToUlaw } from '../src/audio/mulaw.js';
import { readWav } from '../src/audio/wav.js';
import { HANGUP_MESSAGE, encodeAudio } from '../src/audiosocket/codec.js';
import { loadCapture, replayCapture } from '../src/sim/capture.js';
import { decodeFrame } from '../src/sim/received-audio.js';
import { formatCallReport } from '../src/sim/report.js';
import { runCall } from '../src/sim/run-call.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { measurePcmTone, measureTone } from '../src/sim/tone.js';
import { audioOf, startAudioSocketPeer, type Seen } from './support/audiosocket-peer.js';

const CAPTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'captures');

function sine(hz: number, rate: number, ms: number): Buffer {
  const pcm = Buffer.alloc(Math.round((rate * ms) / 1000) * 2);
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return pcm;
}

/** Wire messages of `kind` carrying `pcm` in payloads of `bytes`. */
function messages(kind: number, pcm: Buffer, bytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < pcm.length; offset += bytes) out.push(encodeAudio(kind, pcm.subarray(offset, offset + bytes)));
  return out;
}

/** Writes one frame per 20 ms against an absolute clock, as the real server does. */
async function paced(socket: Socket, frames: readonly Buffer[], sentAt: number[] = []): Promise<void> {
  let next = performance.now();
  for (const frame of frames) {
    if (socket.destroyed) return;
    socket.write(frame);
    sentAt.push(performance.now());
    next += 20;
    await sleep(Math.max(0, next - performance.now()));
  }
}

/**
 * A server that greets on connect, answers when the caller's voice ends, then sends 0x00;
 * `replySent` gets the send time (performance.now()) of each reply frame.
 */
function greetAndReply(greeting: Buffer[], reply: Buffer[], replySent: number[] = []) {
  return (socket: Socket, seen: Seen[]): void => {
    // The reply follows the greeting, even where a loaded machine made the greeting late.
    const greeted = paced(socket, greeting);
    const timer = setInterval(() => {
      const voiced = audioOf(seen).map((a) => isVoiced(decodeFrame(a.kind, a.payload).pcm));
      if (!voiced.includes(true) || voiced.at(-1) !== false) return;
      clearInterval(timer);
      void greeted.then(() => paced(socket, reply, replySent)).then(() => socket.write(HANGUP_MESSAGE));
    }, 10);
    socket.on('close', () => clearInterval(timer));
  };
}

function near(actual: number | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);
}

/** The cell under `column` in the report's row for turn 1. */
function reportCell(text: string, column: string): string {
  const lines = text.split('\n').map((l) => l.trim().split(/\s{2,}/));
  const header = lines.find((cells) => cells[0] === 'turn')!;
  const row = lines.find((cells) => cells[0] === '1')!;
  return row[header.indexOf(column)]!;
}

describe('call simulator: what the caller heard', { concurrency: true }, () => {
  // The greeting is an 8 kHz 660 Hz tone in 0x10 frames; the reply to a 16 kHz caller is 440 Hz
  // written three ways. Each frame plays at its kind's rate, whatever rate the audio was made at.
  const greeting = messages(0x10, sine(660, 8000, 300), 320);
  const cases = [
    { name: '16 kHz audio in 0x12 frames', reply: messages(0x12, sine(440, 16000, 400), 640), hz: 440, soundMs: 400 },
    { name: 'the same samples labelled 0x10', reply: messages(0x10, sine(440, 16000, 400), 640), hz: 220, soundMs: 800 },
    { name: '8 kHz audio in 640-byte 0x12 frames', reply: messages(0x12, sine(440, 8000, 800), 640), hz: 880, soundMs: 400 },
  ];
  for (const c of cases) {
    test(`reports the greeting's and the reply's tone and sound: ${c.name}`, async () => {
      const replySent: number[] = [];
      const server = await startAudioSocketPeer(greetAndReply(greeting, c.reply, replySent));
      try {
        const report = await runCall({
          port: server.port,
          sampleRate: 16000,
          turns: [{ pcm: sine(500, 16000, 200), sampleRate: 16000, at: 450 }],
          hangupAfterMs: 8000,
        });
        assert.equal(report.endedBy, 'server-hangup');
        near(report.greeting.toneHz, 660, 3, 'greeting Hz');
        near(report.greeting.soundMs, 300, 1, 'greeting ms');
        const turn = report.turns[0]!;
        near(turn.toneHz, c.hz, c.hz * 0.01, 'reply Hz');
        near(turn.soundMs, c.soundMs, 1, 'reply sound ms');
        // Wall-clock time, whatever the sound: as long as the peer took to send the frames (about
        // 400 ms), or longer where this loaded process read some of them late.
        const sendMs = replySent.at(-1)! - replySent[0]! + 20;
        assert.ok(turn.replyMs !== undefined && turn.replyMs >= sendMs - 50 && turn.replyMs <= sendMs + 500, `reply wall-clock ms: ${turn.replyMs}, sent over ${sendMs.toFixed(0)} ms`);
        const text = formatCallReport(report);
        assert.equal(reportCell(text, 'tone Hz'), String(Math.round(turn.toneHz!)));
        assert.equal(reportCell(text, 'sound ms'), String(Math.round(turn.soundMs!)));
        assert.ok(text.includes(`greeting: ${Math.round(report.greeting.soundMs!)} ms of sound, tone ${Math.round(report.greeting.toneHz!)} Hz`), text);
      } finally {
        await server.close();
      }
    });
  }

  test("a greeting that switches kind when the caller's first frame comes is reported per frame rate", async () => {
    // The bug seen on a real Asterisk: 8 kHz synthesis, first in 0x10 frames while the caller is
    // silent, then the rest of it in 640-byte 0x12 frames once the caller's 0x12 frames arrive.
    const pcm = sine(440, 8000, 1200);
    const server = await startAudioSocketPeer((socket, seen) => {
      void (async () => {
        let offset = 0;
        let next = performance.now();
        while (offset < pcm.length && !socket.destroyed) {
          const switched = audioOf(seen).length > 0;
          const bytes = switched ? 640 : 320;
          socket.write(encodeAudio(switched ? 0x12 : 0x10, pcm.subarray(offset, offset + bytes)));
          offset += bytes;
          next += 20;
          await sleep(Math.max(0, next - performance.now()));
        }
        // The whole greeting is out: end the call, however long a loaded machine took.
        if (!socket.destroyed) socket.write(HANGUP_MESSAGE);
      })();
    });
    try {
      const report = await runCall({ port: server.port, sampleRate: 16000, silentStartMs: 400, hangupAfterMs: 30_000 });
      assert.equal(report.endedBy, 'server-hangup');
      const parts = report.greeting.byRate ?? [];
      assert.deepEqual(parts.map((p) => p.sampleRate), [8000, 16000]);
      near(parts[0]!.toneHz, 440, 4, '0x10 part Hz');
      near(parts[1]!.toneHz, 880, 8, '0x12 part Hz');
      near(parts[0]!.soundMs + 2 * parts[1]!.soundMs, 1200, 1, 'synthesized ms');
      assert.match(formatCallReport(report), /greeting: .*; by frame rate: 8000 Hz frames \d+ ms at 440 Hz, 16000 Hz frames \d+ ms at 880 Hz/);
    } finally {
      await server.close();
    }
  });

  test('the recording resamples a stream that switches kind to one rate, each part at its pitch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-tone-'));
    const server = await startAudioSocketPeer(greetAndReply(greeting, cases[0]!.reply));
    try {
      const path = join(dir, 'heard.wav');
      const report = await runCall({
        port: server.port,
        sampleRate: 16000,
        turns: [{ pcm: sine(500, 16000, 200), sampleRate: 16000, at: 450 }],
        hangupAfterMs: 8000,
        recordPath: path,
      });
      assert.deepEqual(report.frameKinds, { '0x10': 15, '0x12': 20 });
      const wav = await readWav(path);
      assert.equal(wav.sampleRate, 16000);
      near(wav.pcm.length / 32, 700, 5, 'recording ms');
      near(measurePcmTone(wav.pcm.subarray(0, 250 * 32), 16000).toneHz, 660, 3, 'greeting part Hz');
      near(measurePcmTone(wav.pcm.subarray(350 * 32), 16000).toneHz, 440, 3, 'reply part Hz');
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a μ-law caller sends 160-byte 0x10 frames and hears a μ-law reply at its pitch', async () => {
    const reply = messages(0x10, pcmToUlaw(sine(440, 8000, 400)), 160);
    const server = await startAudioSocketPeer(greetAndReply([], reply));
    try {
      const report = await runCall({
        port: server.port,
        encoding: 'ulaw',
        turns: [{ pcm: sine(500, 8000, 200), sampleRate: 8000, at: 0 }],
        hangupAfterMs: 8000,
      });
      const sent = audioOf(server.sessions[0]!.seen);
      assert.ok(sent.length >= 10 && sent.every((a) => a.kind === 0x10 && a.payload.length === 160));
      near(measureTone(sent).toneHz, 500, 5, 'caller Hz at the server');
      near(report.turns[0]!.toneHz, 440, 4, 'reply Hz');
      near(report.turns[0]!.soundMs, 400, 1, 'reply sound ms');
    } finally {
      await server.close();
    }
  });

  test('a silent start sends nothing after the UUID until the given time, and the turn waits for it', async () => {
    const server = await startAudioSocketPeer();
    try {
      const report = await runCall({
        port: server.port,
        sampleRate: 16000,
        silentStartMs: 500,
        turns: [{ pcm: sine(500, 16000, 100), sampleRate: 16000, at: 0 }],
        hangupAfterMs: 1500,
      });
      await server.sessions[0]!.closedAt;
      const seen = server.sessions[0]!.seen;
      assert.equal(seen[0]!.message.type, 'uuid');
      const first = audioOf(seen)[0]!;
      // Seen by the peer, whose loaded event loop may note the UUID late: a loose bound here,
      // the exact one on the sender's own clock below.
      assert.ok(first.at - seen[0]!.at >= 250, `first audio ${(first.at - seen[0]!.at).toFixed(1)} ms after the UUID`);
      assert.ok(first.kind === 0x12 && isVoiced(first.payload), 'the first frame is the turn, not line silence');
      assert.ok(report.turns[0]!.startMs >= 495, `turn started at ${report.turns[0]!.startMs} ms`);
    } finally {
      await server.close();
    }
  });

  test('replaying the Dial slin16 capture with its timing keeps the 1.5 s of nothing before the first frame', async () => {
    const server = await startAudioSocketPeer();
    try {
      const capture = await loadCapture(join(CAPTURES, 'dial-slin16.bin'));
      await replayCapture({ port: server.port, capture, durationMs: 1560 });
      await server.sessions[0]!.closedAt;
      const seen = server.sessions[0]!.seen;
      const first = audioOf(seen)[0]!;
      assert.equal(seen[0]!.message.type, 'uuid');
      // Seen by the peer, whose loaded event loop may note the UUID late.
      assert.ok(first.at - seen[0]!.at >= 1000, `first audio ${(first.at - seen[0]!.at).toFixed(1)} ms after the UUID`);
      assert.equal(first.kind, 0x12);
    } finally {
      await server.close();
    }
  });

  test('μ-law at 16 kHz and a negative silent start are refused', async () => {
    await assert.rejects(SimulatedCall.connect({ port: 1, encoding: 'ulaw', sampleRate: 16000 }), /μ-law calls are 8000 Hz/);
    await assert.rejects(SimulatedCall.connect({ port: 1, silentStartMs: -1 }), /silentStartMs must be/);
  });
});
