import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silence } from '../src/audio/frames.js';
import { readWav } from '../src/audio/wav.js';
import { HANGUP_MESSAGE, encodeAudio } from '../src/audiosocket/codec.js';
import { runCall, turnReports } from '../src/sim/run-call.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { jitterStats, percentile } from '../src/sim/stats.js';
import { audioOf, startAudioSocketPeer } from './support/audiosocket-peer.js';
import { waitFor } from './support/wait-for.js';

function tone(ms: number, rate: number, value = 3000): Buffer {
  const pcm = Buffer.alloc(Math.round((rate * ms) / 1000) * 2);
  for (let i = 0; i < pcm.length; i += 4) {
    pcm.writeInt16LE(value, i);
    if (i + 2 < pcm.length) pcm.writeInt16LE(-value, i + 2);
  }
  return pcm;
}

describe('call simulator', { concurrency: true }, () => {
  test('sends the UUID first, then paced 20 ms frames: the WAV, then line silence', async () => {
    const server = await startAudioSocketPeer();
    try {
      const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
      const call = await SimulatedCall.connect({ port: server.port, uuid, sampleRate: 8000 });
      const played = call.play(tone(400, 8000));
      await played;
      const toneSent = call.sent.length;
      await waitFor(() => call.sent.length >= toneSent + 15, 'line silence after the tone');
      await call.hangUp();
      await server.sessions[0]!.closedAt;
      const seen = server.sessions[0]!.seen;
      assert.deepEqual(seen[0]!.message, { type: 'uuid', id: uuid });
      const audio = audioOf(seen);
      assert.ok(audio.every((a) => a.kind === 0x10 && a.payload.length === 320));
      const first = audio.findIndex((a) => a.payload.some((b) => b !== 0));
      assert.ok(first >= 0 && first <= 2, `the tone starts at frame ${first}`);
      assert.ok(audio.slice(first, first + 20).every((a) => a.payload.some((b) => b !== 0)), 'the tone is 20 frames');
      const after = audio.slice(first + 20);
      assert.ok(after.length >= 10 && after.every((a) => a.payload.every((b) => b === 0)), 'silence follows the tone');
      // Paced by the sender's clock: never ahead of real time, and a frame every 20 ms for the most
      // part (a loaded machine delays some ticks, and the next ones catch up or re-anchor).
      const sent = call.sent.map((m) => m.atMs);
      const spanMs = sent.at(-1)! - sent[0]!;
      assert.ok(sent.length - 1 <= spanMs / 20 + 2, `${sent.length} frames in ${spanMs.toFixed(0)} ms: faster than real time`);
      const gaps = sent.slice(1).map((at, i) => at - sent[i]!).sort((a, b) => a - b);
      const median = gaps[gaps.length >> 1]!;
      assert.ok(median > 15 && median < 30, `median gap ${median.toFixed(1)} ms`);
    } finally {
      await server.close();
    }
  });

  test('16 kHz calls use kind 0x12, or 0x10 with 640-byte frames in legacy mode', async () => {
    const server = await startAudioSocketPeer();
    try {
      const modern = await SimulatedCall.connect({ port: server.port, sampleRate: 16000 });
      const legacy = await SimulatedCall.connect({ port: server.port, sampleRate: 16000, legacy8kLabel: true });
      await waitFor(() => server.sessions.length === 2 && server.sessions.every((s) => audioOf(s.seen).length >= 3), 'frames of both calls');
      await Promise.all([modern.hangUp(), legacy.hangUp()]);
      await Promise.all(server.sessions.map((s) => s.closedAt));
      const byUuid = (uuid: string) => audioOf(server.sessions.find((s) => s.seen[0]?.message.type === 'uuid' && s.seen[0].message.id === uuid)!.seen);
      const a = byUuid(modern.uuid);
      const b = byUuid(legacy.uuid);
      assert.ok(a.length >= 3 && a.every((f) => f.kind === 0x12 && f.payload.length === 640));
      assert.ok(b.length >= 3 && b.every((f) => f.kind === 0x10 && f.payload.length === 640));
    } finally {
      await server.close();
    }
  });

  test('a silent leg sends only its utterance, and DTMF goes out one digit per message', async () => {
    const server = await startAudioSocketPeer();
    try {
      const report = await runCall({
        port: server.port,
        fillSilence: false,
        turns: [{ pcm: tone(100, 8000), sampleRate: 8000, at: 0 }],
        dtmf: [{ at: 150, digits: '1#*', intervalMs: 50 }],
        hangupAfterMs: 1500,
      });
      await server.sessions[0]!.closedAt;
      const seen = server.sessions[0]!.seen;
      assert.equal(audioOf(seen).length, 5);
      assert.deepEqual(
        seen.flatMap((s) => (s.message.type === 'dtmf' ? [s.message.digit] : [])),
        ['1', '#', '*'],
      );
      assert.equal(report.dtmfSent, 3);
      assert.equal(report.endedBy, 'client');
      assert.ok(report.durationMs >= 1450 && report.durationMs < 5000, `duration ${report.durationMs}`);
    } finally {
      await server.close();
    }
  });

  test('a turn at another rate is resampled to the call rate', async () => {
    const server = await startAudioSocketPeer();
    try {
      const report = await runCall({
        port: server.port,
        sampleRate: 8000,
        fillSilence: false,
        turns: [{ pcm: tone(200, 16000), sampleRate: 16000, at: 0 }],
        hangupAfterMs: 1500,
      });
      await server.sessions[0]!.closedAt;
      const audio = audioOf(server.sessions[0]!.seen);
      assert.equal(report.framesSent, 10);
      assert.equal(audio.length, 10);
      assert.ok(audio.every((a) => a.kind === 0x10 && a.payload.length === 320));
    } finally {
      await server.close();
    }
  });

  test('records the reply, reports latency from end of speech, and stops on the server 0x00', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-'));
    // Answers 300 ms after the caller's first silent frame that follows voice, then hangs up.
    const server = await startAudioSocketPeer((socket, seen) => {
      let answered = false;
      const timer = setInterval(() => {
        const audio = audioOf(seen);
        const lastVoiced = audio.findLastIndex((a) => a.payload.some((b) => b !== 0));
        if (answered || lastVoiced < 0 || lastVoiced === audio.length - 1) return;
        answered = true;
        clearInterval(timer);
        void (async () => {
          await sleep(300);
          for (let i = 0; i < 10; i++) {
            socket.write(encodeAudio(0x10, i < 5 ? tone(20, 8000, 4000) : silence(20, 8000)));
            await sleep(20);
          }
          socket.write(HANGUP_MESSAGE);
        })();
      }, 10);
      socket.on('close', () => clearInterval(timer));
    });
    try {
      const path = join(dir, 'reply.wav');
      const report = await runCall({
        port: server.port,
        turns: [{ pcm: tone(200, 8000), sampleRate: 8000, at: 0 }],
        hangupAfterMs: 5000,
        recordPath: path,
      });
      assert.equal(report.endedBy, 'server-hangup');
      assert.equal(report.framesReceived, 10);
      assert.deepEqual(report.frameSizes, { '320': 10 });
      const turn = report.turns[0]!;
      // The server waits 300 ms: never sooner; later only as much as a loaded machine makes it.
      assert.ok(turn.latencyMs !== undefined && turn.latencyMs > 250 && turn.latencyMs < 3000, `latency ${turn.latencyMs}`);
      assert.ok(turn.replyMs !== undefined && turn.replyMs >= 80 && turn.replyMs <= 500, `reply ${turn.replyMs}`);
      const wav = await readWav(path);
      assert.equal(wav.sampleRate, 8000);
      assert.equal(wav.pcm.length, 3200);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an unreachable server or a malformed UUID fails with a clear error', async () => {
    const server = await startAudioSocketPeer();
    const port = server.port;
    await server.close();
    await assert.rejects(SimulatedCall.connect({ port }), /cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
    await assert.rejects(SimulatedCall.connect({ port, uuid: 'not-a-uuid' }), /canonical 36-character UUID/);
  });

  test('a server that sends garbage ends the call with an error instead of a crash', async () => {
    const server = await startAudioSocketPeer((socket) => socket.write(Buffer.from([0x42, 0, 1, 0])));
    try {
      const report = await runCall({ port: server.port, hangupAfterMs: 30_000 });
      assert.equal(report.endedBy, 'error');
      assert.match(report.error ?? '', /unknown message kind 0x42/);
    } finally {
      await server.close();
    }
  });
});

describe('jitter statistics', () => {
  const steady = (n: number, jitter = 0) => Array.from({ length: n }, (_, i) => i * 20 + (i % 2) * jitter);

  test('an even stream has no deviation, early, late or lost frames', () => {
    assert.deepEqual(jitterStats(steady(100)), { frames: 100, p50: 0, p99: 0, max: 0, early: 0, late: 0, lost: 0 });
    const wobbly = jitterStats(steady(100, 3));
    assert.equal(wobbly.p50, 3);
    assert.equal(wobbly.early, 0);
  });

  test('a burst ahead of real time counts as early frames', () => {
    const arrivals = [...steady(50), ...Array.from({ length: 5 }, () => 1000), ...steady(50).map((t) => t + 1000)];
    const stats = jitterStats(arrivals);
    assert.ok(stats.early >= 4, `early ${stats.early}`);
  });

  test('a gap counts as late with its lost slots, a receiver stall is not early', () => {
    const gap = [...steady(50), ...steady(50).map((t) => t + 1100)];
    const stats = jitterStats(gap);
    assert.equal(stats.late, 1);
    assert.equal(stats.lost, 5);
    const stalled = steady(100).map((t, i) => (i >= 10 && i < 13 ? 260 : t));
    assert.equal(jitterStats(stalled).early, 0);
    assert.equal(percentile([5, 1, 3], 50), 3);
  });
});

describe('turn reports', () => {
  test('latency runs from the last voiced caller frame to the first voiced reply, and barge-in is timed', () => {
    const sent = [
      ...Array.from({ length: 50 }, (_, i) => ({ atMs: i * 20, voiced: i < 40, clip: 0 })),
      ...Array.from({ length: 30 }, (_, i) => ({ atMs: 1000 + i * 20, voiced: false, clip: -1 })),
      // The second utterance starts at 2000 ms, while the bot is still talking.
      ...Array.from({ length: 25 }, (_, i) => ({ atMs: 2000 + i * 20, voiced: true, clip: 1 })),
    ];
    const received = Array.from({ length: 150 }, (_, i) => {
      const atMs = i * 20 + 5;
      // Bot voice from 1285 ms until 2085 ms, then silence.
      return { atMs, kind: 0x10, bytes: 320, voiced: atMs >= 1285 && atMs < 2100 };
    });
    const [first, second] = turnReports({ sent, received });
    assert.equal(first!.speechEndMs, 780);
    assert.equal(first!.latencyMs, 505);
    assert.equal(first!.replyMs, 820);
    assert.equal(first!.bargeIn, undefined);
    assert.equal(first!.talkingAtSpeechEnd, false);
    assert.deepEqual(second!.bargeIn, { botStoppedAfterMs: 105 });
    assert.equal(second!.latencyMs, undefined);
    assert.equal(second!.talkingAtSpeechEnd, false);
  });

  test('a bot already talking at the end of speech is not taken for the reply', () => {
    const sent = Array.from({ length: 50 }, (_, i) => ({ atMs: i * 20, voiced: i < 40, clip: 0 }));
    // The bot talks over the caller until 900 ms, pauses, and replies from 1500 ms.
    const received = Array.from({ length: 100 }, (_, i) => ({ atMs: i * 20, kind: 0x10, bytes: 320, voiced: (i >= 20 && i < 45) || i >= 75 }));
    const [turn] = turnReports({ sent, received });
    assert.equal(turn!.talkingAtSpeechEnd, true);
    assert.equal(turn!.replyStartMs, 1500);
    assert.equal(turn!.latencyMs, 720);
  });
});
