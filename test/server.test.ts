import assert from 'node:assert/strict';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readWav } from '../src/audio/wav.js';
import { createAudioSocketServer, type AudioSocketCall, type AudioSocketServer, type EndReason } from '../src/audiosocket/server.js';
import type { AudioSocketConfig } from '../src/audiosocket/config.js';
import { createEchoHandler } from '../src/call/echo.js';
import { loadCapture, replayCapture } from '../src/sim/capture.js';
import { runCall } from '../src/sim/run-call.js';
import { SimulatedCall } from '../src/sim/simulated-call.js';
import { turnReports } from '../src/sim/turns.js';
import { replyEnded } from './support/call-waits.js';
import { waitFor, within } from './support/wait-for.js';

const SHARED = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');

function tone(ms: number, rate: number, value = 3000): Buffer {
  const pcm = Buffer.alloc(Math.round((rate * ms) / 1000) * 2);
  for (let i = 0; i < pcm.length; i += 4) {
    pcm.writeInt16LE(value, i);
    if (i + 2 < pcm.length) pcm.writeInt16LE(-value, i + 2);
  }
  return pcm;
}

/** Starts a server on 127.0.0.1 port 0, runs `body`, always closes it. */
async function withServer<T>(
  onCall: (call: AudioSocketCall) => void | Promise<void>,
  body: (port: number, server: AudioSocketServer) => Promise<T>,
  config: Partial<AudioSocketConfig> = {},
): Promise<T> {
  const server = createAudioSocketServer({ config: { host: '127.0.0.1', port: 0, ...config }, onCall });
  const { port } = await server.listen();
  try {
    return await body(port, server);
  } finally {
    await server.close();
  }
}

/** Resolves with the next call the server establishes. */
function nextCall(server: AudioSocketServer): Promise<AudioSocketCall> {
  return once(server, 'call').then(([call]) => call as AudioSocketCall);
}

describe('AudioSocket server through the call simulator', { concurrency: true }, () => {
  test('an 8 kHz caller hears ~50 paced 320-byte 0x10 frames a second: the reply, then silence', async () => {
    const served: AudioSocketCall[] = [];
    await withServer(
      async (call) => {
        served.push(call);
        await call.format;
        call.playout.enqueue(tone(200, 8000), 'reply');
      },
      async (port) => {
        const call = await SimulatedCall.connect({ port, sampleRate: 8000, keepPayload: false });
        const silenceAfterReply = () => {
          const firstVoiced = call.received.findIndex((f) => f.voiced);
          return firstVoiced >= 0 && call.received.length - firstVoiced >= 10 + 25;
        };
        await waitFor(silenceAfterReply, 'silence after the reply');
        await call.hangUp();
        const frames = call.received;
        assert.ok(frames.every((f) => f.kind === 0x10 && f.bytes === 320));
        const voiced = frames.filter((f) => f.voiced).length;
        assert.equal(voiced, 10);
        const firstVoiced = frames.findIndex((f) => f.voiced);
        assert.ok(frames.slice(firstVoiced, firstVoiced + 10).every((f) => f.voiced), 'the reply is ten frames in a row');
        // Paced: never faster than real time; on a loaded machine the clock re-anchors, and the
        // frames plus the time it skipped make up the time the caller listened.
        const span = frames.at(-1)!.atMs - frames[0]!.atMs + 20;
        const { lostMs } = served[0]!.playout.stats;
        assert.ok(frames.length * 20 <= span + 60, `${frames.length} frames in ${Math.round(span)} ms: faster than real time`);
        assert.ok(frames.length * 20 + lostMs >= span - 100, `${frames.length} frames + ${Math.round(lostMs)} ms skipped in ${Math.round(span)} ms`);
      },
    );
  });

  test('a 16 kHz caller gets 0x12 frames, and an old Asterisk 640-byte 0x10 caller gets the same label back', async () => {
    await withServer(
      () => {},
      async (port) => {
        const modern = await SimulatedCall.connect({ port, sampleRate: 16000 });
        const legacy = await SimulatedCall.connect({ port, sampleRate: 16000, legacy8kLabel: true });
        await waitFor(() => modern.received.length >= 15 && legacy.received.length >= 15, 'frames on both calls');
        await Promise.all([modern.hangUp(), legacy.hangUp()]);
        const tail = (c: SimulatedCall) => c.received.slice(-5);
        assert.ok(modern.received.length >= 10);
        assert.ok(tail(modern).every((f) => f.kind === 0x12 && f.bytes === 640), JSON.stringify(tail(modern)));
        assert.ok(tail(legacy).every((f) => f.kind === 0x10 && f.bytes === 640), JSON.stringify(tail(legacy)));
      },
    );
  });

  test('a caller hang-up (TCP close) ends the server call as peer_closed', async () => {
    await withServer(
      () => {},
      async (port, server) => {
        const established = nextCall(server);
        const call = await SimulatedCall.connect({ port });
        const serverCall = await established;
        const ended = once(serverCall, 'end') as Promise<[EndReason]>;
        await waitFor(() => call.received.length > 0, 'the first frame');
        await call.hangUp();
        const [reason] = await ended;
        assert.equal(reason, 'peer_closed');
        assert.equal(server.activeCalls, 0);
      },
    );
  });

  test('a server hang-up reaches the caller as 0x00 and ends the simulated call', async () => {
    await withServer(
      async (call) => {
        await once(call, 'audio');
        call.hangUp();
      },
      async (port) => {
        const hangupAfterMs = 30_000;
        const report = await runCall({ port, hangupAfterMs });
        assert.equal(report.endedBy, 'server-hangup');
        assert.ok(report.durationMs < hangupAfterMs, `ended after ${report.durationMs} ms`);
      },
    );
  });

  test('DTMF digits arrive as dtmf events in order while audio keeps flowing', async () => {
    const digits: string[] = [];
    let audioFrames = 0;
    let audioAtLastDigit = 0;
    await withServer(
      (call) => {
        call.on('dtmf', (d) => {
          digits.push(d);
          audioAtLastDigit = audioFrames;
        });
        call.on('audio', () => audioFrames++);
      },
      async (port) => {
        const call = await SimulatedCall.connect({ port });
        await waitFor(() => audioFrames >= 5, 'caller audio at the server');
        for (const digit of '12#*') {
          call.sendDtmf(digit);
          await waitFor(() => digits.length > 0 && digits.at(-1) === digit, `digit ${digit}`);
        }
        await waitFor(() => audioFrames >= audioAtLastDigit + 10, 'audio after the digits');
        await call.hangUp();
      },
    );
    assert.deepEqual(digits, ['1', '2', '#', '*']);
  });

  test('a peer outside the allowlist is refused before any audio', async () => {
    await withServer(
      () => assert.fail('no call expected'),
      async (port, server) => {
        const call = await SimulatedCall.connect({ port });
        const end = await within(call.closed, 'the server to close the connection');
        assert.notEqual(end.by, 'client', 'the server closed the connection');
        assert.equal(call.received.length, 0);
        assert.equal(server.stats.refused.allowlist, 1);
      },
      { allow: ['10.0.0.0/8'] },
    );
  });

  test('a call over the max-calls limit is refused while the first goes on', async () => {
    await withServer(
      () => {},
      async (port, server) => {
        const first = await SimulatedCall.connect({ port });
        await waitFor(() => server.activeCalls === 1 && first.received.length > 0, 'the first call');
        const second = await SimulatedCall.connect({ port });
        const end = await within(second.closed, 'the server to refuse the second call');
        assert.notEqual(end.by, 'client');
        assert.equal(server.stats.refused.capacity, 1);
        assert.ok(first.active);
        assert.equal(server.activeCalls, 1);
        await first.hangUp();
      },
      { maxCalls: 1 },
    );
  });

  test('playout.clear() silences the caller within a few frames', async () => {
    let cleared = false;
    await withServer(
      async (call) => {
        await call.format;
        call.playout.enqueue(tone(3000, 8000), 'long');
        call.on('dtmf', () => {
          call.playout.clear();
          cleared = true;
        });
      },
      async (port) => {
        const call = await SimulatedCall.connect({ port });
        await waitFor(() => call.received.filter((f) => f.voiced).length >= 15, 'the reply playing');
        const clearedAt = call.nowMs();
        call.sendDtmf('#');
        await waitFor(() => cleared, 'the clear');
        const after = () => call.received.filter((f) => f.atMs > clearedAt);
        await waitFor(() => after().length >= 20, 'frames after the clear');
        await call.hangUp();
        // Counted in frames, not ms: a loaded machine stretches time, not the frames in flight.
        const voicedAfter = after().filter((f) => f.voiced).length;
        assert.ok(voicedAfter <= 5, `${voicedAfter} reply frames after the clear`);
        assert.ok(after().slice(-10).every((f) => !f.voiced), 'silence goes on after the clear');
      },
    );
  });

  test('the echo pipeline answers a spoken WAV after the caller stops', async () => {
    const wav = await readWav(join(SHARED, 'audio', 'ru-wait-8k.wav'));
    await withServer(createEchoHandler({ vadThreshold: 500, endOfSpeechMs: 300, echoMaxMs: 10_000 }), async (port) => {
      const call = await SimulatedCall.connect({ port, sampleRate: 8000, keepPayload: false });
      await call.play(wav.pcm);
      await replyEnded(call, { quietMs: 400 });
      await call.hangUp();
      const turn = turnReports(call)[0]!;
      // Not before the 300 ms of silence that ends the utterance; the upper bound only says it came.
      assert.ok(turn.latencyMs !== undefined && turn.latencyMs >= 250 && turn.latencyMs < 5000, `latency ${turn.latencyMs}`);
      assert.ok(turn.replyMs !== undefined && turn.replyMs > 800, `reply ${turn.replyMs} ms`);
      // Never ahead of real time: the frames from the reply's first on take their 20 ms each (give
      // or take one stall of this loaded process, which reads a few of them late, in a batch).
      const reply = call.received.filter((f) => f.atMs >= turn.replyStartMs!);
      const spanMs = reply.at(-1)!.atMs - reply[0]!.atMs + 20;
      assert.ok(reply.length * 20 <= spanMs + 100, `${reply.length} frames in ${spanMs.toFixed(0)} ms: ahead of real time`);
    });
  });

  describe('replayed Asterisk captures', { concurrency: true }, () => {
    /** Replays a capture's first seconds (long pauses shortened) and returns what the server saw. */
    async function replay(name: string) {
      const capture = await loadCapture(join(SHARED, 'captures', `${name}.bin`));
      const seen = { digits: [] as string[], audio: [] as number[], format: undefined as undefined | { sampleRate: number; encoding: string }, reason: undefined as EndReason | undefined };
      const result = await withServer(
        async (call) => {
          call.on('dtmf', (d) => seen.digits.push(d));
          call.on('audio', (pcm) => seen.audio.push(pcm.length));
          call.on('end', (reason) => (seen.reason = reason));
          // A capture whose audio starts late is first given the fallback format, then the detected one.
          call.on('format', (f) => (seen.format = { sampleRate: f.sampleRate, encoding: f.encoding }));
          const f = await call.format;
          seen.format ??= { sampleRate: f.sampleRate, encoding: f.encoding };
        },
        async (port) => {
          const r = await replayCapture({ port, capture, maxGapMs: 100, durationMs: 2000, holdMs: 100 });
          await waitFor(() => seen.reason !== undefined, 'the server to end the call');
          return r;
        },
      );
      return { seen, result };
    }

    test('the dialplan-app capture yields DTMF 1 2 3 # * and 8 kHz audio events', async () => {
      const { seen, result } = await replay('app-8k-dtmf');
      assert.deepEqual(seen.digits, ['1', '2', '3', '#', '*']);
      assert.deepEqual(seen.format, { sampleRate: 8000, encoding: 'slin' });
      assert.ok(seen.audio.length >= 50 && seen.audio.every((n) => n === 320), `${seen.audio.length} frames`);
      assert.equal(seen.reason, 'peer_closed');
      assert.ok(result.received.length > 0 && result.received.every((m) => m.type === 'audio' && m.kind === 0x10 && m.payload.length === 320));
    });

    test('the Dial slin16 capture is heard as 16 kHz and answered with 0x12 frames', async () => {
      const { seen, result } = await replay('dial-slin16');
      assert.deepEqual(seen.format, { sampleRate: 16000, encoding: 'slin' });
      assert.ok(seen.audio.length >= 20 && seen.audio.every((n) => n === 640));
      assert.ok(result.received.length > 0 && result.received.every((m) => m.type === 'audio' && m.kind === 0x12 && m.payload.length === 640));
    });

    test('the Dial ulaw capture is decoded to slin and answered in 160-byte μ-law frames', async () => {
      const { seen, result } = await replay('dial-ulaw');
      assert.deepEqual(seen.format, { sampleRate: 8000, encoding: 'ulaw' });
      assert.ok(seen.audio.length >= 20 && seen.audio.every((n) => n === 320));
      const tail = result.received.slice(-10);
      assert.ok(tail.length === 10 && tail.every((m) => m.type === 'audio' && m.kind === 0x10 && m.payload.length === 160), JSON.stringify(tail.map((m) => m.type === 'audio' && m.payload.length)));
    });
  });
});
