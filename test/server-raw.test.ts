import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createAllowlist, parseCidr } from '../src/audiosocket/allowlist.js';
import { encodeAudio, encodeMessage, Kind, MessageReader, type Message } from '../src/audiosocket/codec.js';
import type { AudioSocketConfig } from '../src/audiosocket/config.js';
import { createAudioSocketServer, type AudioSocketCall, type AudioSocketServer, type CallHandler } from '../src/audiosocket/server.js';
import { createEchoHandler } from '../src/call/echo.js';
import { createLogger, type Logger } from '../src/logger.js';
import { WAIT_MS, waitFor, within } from './support/wait-for.js';

const UUID_A = '0f8e6a52-3c1b-4d2e-9f00-a1b2c3d4e5f6';
const UUID_B = '7d3c2b1a-0000-4fff-8abc-123456789abc';

interface Frame {
  at: number;
  message: Message;
}

/** Plays Asterisk's part over a raw TCP socket and records what the server sends. */
class RawPeer {
  readonly socket: Socket;
  readonly received: Frame[] = [];
  readonly closed: Promise<void>;
  readonly #reader = new MessageReader();

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (const message of this.#reader.push(chunk)) this.received.push({ at, message });
    });
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  static async open(port: number, uuid?: string): Promise<RawPeer> {
    const peer = new RawPeer(port);
    await once(peer.socket, 'connect');
    if (uuid) peer.send(encodeMessage({ type: 'uuid', id: uuid }));
    return peer;
  }

  send(bytes: Buffer | number[]): void {
    if (!this.socket.destroyed) this.socket.write(Array.isArray(bytes) ? Buffer.from(bytes) : bytes);
  }

  audio(kind: number, payload: Buffer): void {
    this.send(encodeAudio(kind, payload));
  }

  get audioFrames(): { at: number; kind: number; payload: Buffer }[] {
    return this.received.flatMap(({ at, message }) => (message.type === 'audio' ? [{ at, kind: message.kind, payload: message.payload }] : []));
  }

  async waitFor(what: string, done: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    await waitFor(done, what, timeoutMs);
  }

  /** True once the server has closed the connection; false if it is still open after a generous wait. */
  async closedWithin(ms = WAIT_MS): Promise<boolean> {
    return within(this.closed, 'the connection to close', ms).then(
      () => true,
      () => false,
    );
  }

  end(): void {
    this.socket.destroy();
  }
}

interface Harness {
  server: AudioSocketServer;
  port: number;
  calls: AudioSocketCall[];
  logs: Record<string, unknown>[];
  nextCall(): Promise<AudioSocketCall>;
  close(): Promise<void>;
}

function logSink(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('info', stream), lines };
}

async function startServer(config: Partial<AudioSocketConfig> = {}, onCall: CallHandler = () => {}): Promise<Harness> {
  const { log, lines } = logSink();
  const calls: AudioSocketCall[] = [];
  const waiters: ((call: AudioSocketCall) => void)[] = [];
  const server = createAudioSocketServer({
    config: { host: '127.0.0.1', port: 0, formatWaitMs: 150, ...config },
    log,
    onCall,
  });
  server.on('call', (call) => {
    calls.push(call);
    waiters.shift()?.(call);
  });
  const { port } = await server.listen();
  return {
    server,
    port,
    calls,
    logs: lines,
    nextCall: () => {
      const seen = calls.length;
      return new Promise((resolve) => {
        if (calls.length > seen) resolve(calls[seen]!);
        else waiters.push(resolve);
      });
    },
    close: () => server.close(),
  };
}

function tone(samples: number, value: number): Buffer {
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(value, i * 2);
  return pcm;
}

const isSilent = (payload: Buffer): boolean => payload.every((b) => b === 0);

describe('AudioSocket server over raw TCP', { concurrency: true }, () => {
  test('the UUID message makes a call with the canonical id', async () => {
    const h = await startServer();
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A.toUpperCase());
      const call = await next;
      assert.equal(call.id, UUID_A);
      assert.ok(Math.abs(call.startedAt - Date.now()) < 2000);
      assert.equal(h.server.activeCalls, 1);
      assert.deepEqual(h.server.calls(), [call]);
      assert.equal(h.server.stats.accepted, 1);
      peer.end();
    } finally {
      await h.close();
    }
  });

  for (const { name, kind, bytes, rate, encoding, replyBytes } of [
    { name: '8 kHz slin (0x10, 320 bytes)', kind: 0x10, bytes: 320, rate: 8000, encoding: 'slin', replyBytes: 320 },
    { name: '16 kHz slin (0x12, 640 bytes)', kind: 0x12, bytes: 640, rate: 16000, encoding: 'slin', replyBytes: 640 },
    { name: 'older Asterisk 16 kHz (0x10, 640 bytes)', kind: 0x10, bytes: 640, rate: 16000, encoding: 'slin', replyBytes: 640 },
    { name: 'μ-law (0x10, 160 bytes)', kind: 0x10, bytes: 160, rate: 8000, encoding: 'ulaw', replyBytes: 160 },
    { name: '48 kHz slin (0x16, 1920 bytes)', kind: 0x16, bytes: 1920, rate: 48000, encoding: 'slin', replyBytes: 1920 },
  ] as const) {
    test(`detects ${name} and replies in the same kind and size`, async () => {
      const h = await startServer({ formatWaitMs: 1000 });
      try {
        const next = h.nextCall();
        const peer = await RawPeer.open(h.port, UUID_A);
        const call = await next;
        const audio: Buffer[] = [];
        call.on('audio', (pcm) => audio.push(pcm));
        // A frame sent too early would be here by now; nothing else shows its absence.
        await sleep(30);
        assert.equal(peer.audioFrames.length, 0, 'no frames before the format is known');
        assert.equal(h.server.stats.framesOut, 0, 'no frames before the format is known');
        peer.audio(kind, Buffer.alloc(bytes, encoding === 'ulaw' ? 0xff : 0));
        const format = await call.format;
        assert.equal(format.sampleRate, rate);
        assert.equal(format.encoding, encoding);
        assert.equal(format.detected, true);
        await peer.waitFor('three reply frames', () => peer.audioFrames.length >= 3);
        for (const f of peer.audioFrames) {
          assert.equal(f.kind, kind);
          assert.equal(f.payload.length, replyBytes);
        }
        await peer.waitFor('the audio event', () => audio.length === 1);
        assert.equal(audio[0]!.length, (rate / 50) * 2, 'inbound audio is slin at the call rate');
        if (encoding === 'ulaw') assert.ok(isSilent(audio[0]!), 'μ-law silence decodes to zero');
        peer.end();
      } finally {
        await h.close();
      }
    });
  }

  test('without inbound audio the format falls back to 8 kHz slin and silence starts', async () => {
    const h = await startServer({ formatWaitMs: 100 });
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      const t0 = performance.now();
      const format = await call.format;
      assert.deepEqual([format.sampleRate, format.encoding, format.kind, format.detected], [8000, 'slin', 0x10, false]);
      await peer.waitFor('the first frame', () => peer.audioFrames.length > 0);
      const first = peer.audioFrames[0]!;
      // The dialplan app hangs up after 2 s without frames: the fallback comes long before (the
      // bound is loose for a loaded machine; the benchmark times it).
      assert.ok(first.at - t0 < 5000, `first frame after ${first.at - t0} ms`);
      assert.equal(first.kind, 0x10);
      assert.equal(first.payload.length, 320);
      assert.ok(isSilent(first.payload));
      peer.end();
    } finally {
      await h.close();
    }
  });

  test('audio arriving after the fallback switches the reply format to mirror the peer', async () => {
    const h = await startServer({ formatWaitMs: 50 });
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      assert.equal((await call.format).detected, false);
      await peer.waitFor('fallback frames', () => peer.audioFrames.length > 0);
      const changed = once(call, 'format');
      peer.audio(0x12, Buffer.alloc(640));
      const [format] = await changed;
      assert.deepEqual([format.sampleRate, format.kind, format.detected], [16000, 0x12, true]);
      assert.equal(call.currentFormat, format);
      const switchedAt = peer.audioFrames.length;
      await peer.waitFor('frames in the new format', () => peer.audioFrames.length >= switchedAt + 3);
      const last = peer.audioFrames.at(-1)!;
      assert.deepEqual([last.kind, last.payload.length], [0x12, 640]);
      peer.end();
    } finally {
      await h.close();
    }
  });

  test('DTMF messages become dtmf events, also before any audio', async () => {
    const h = await startServer();
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      const digits: string[] = [];
      call.on('dtmf', (d) => digits.push(d));
      for (const d of '12#*') peer.send(encodeMessage({ type: 'dtmf', digit: d }));
      await peer.waitFor('four digits', () => digits.length === 4);
      assert.deepEqual(digits, ['1', '2', '#', '*']);
      peer.end();
    } finally {
      await h.close();
    }
  });

  test('writes paced frames, about 50 per second, silence when nothing is queued', async () => {
    const h = await startServer({ formatWaitMs: 0 });
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      await peer.waitFor('the first frame', () => peer.audioFrames.length > 0);
      const stats = call.playout.stats;
      const [t0, written0, lost0] = [performance.now(), stats.framesWritten, stats.lostMs];
      // Lets a second pass to measure the rate; the bounds below hold on a loaded machine too.
      await sleep(1000);
      const [elapsed, written, lost] = [performance.now() - t0, stats.framesWritten - written0, stats.lostMs - lost0];
      assert.ok(written * 20 <= elapsed + 60, `${written} frames in ${Math.round(elapsed)} ms: faster than real time`);
      // Under load the clock re-anchors; frames plus the skipped time still make up the time elapsed.
      assert.ok(written * 20 + lost >= elapsed - 80, `${written} frames + ${Math.round(lost)} ms skipped in ${Math.round(elapsed)} ms`);
      await peer.waitFor('the frames written', () => peer.audioFrames.length >= written0 + written);
      const frames = peer.audioFrames;
      for (const f of frames) {
        assert.equal(f.kind, 0x10);
        assert.equal(f.payload.length, 320);
        assert.ok(isSilent(f.payload));
      }
      peer.end();
    } finally {
      await h.close();
    }
  });

  test('queued reply audio is played between silence frames', async () => {
    const h = await startServer({ formatWaitMs: 0 });
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      await call.format;
      call.playout.enqueue(tone(160 * 5, 1234), 'reply');
      await call.playout.whenIdle();
      await peer.waitFor('the reply', () => peer.audioFrames.filter((f) => !isSilent(f.payload)).length === 5);
      const replyEnd = peer.audioFrames.findLastIndex((f) => !isSilent(f.payload));
      await peer.waitFor('silence after the reply', () => peer.audioFrames.length >= replyEnd + 3);
      const kinds = peer.audioFrames.map((f) => (isSilent(f.payload) ? 's' : 'a')).join('');
      assert.match(kinds, /^s*aaaaas+$/);
      assert.equal(call.playout.playedMs('reply'), 100);
      peer.end();
    } finally {
      await h.close();
    }
  });

  test('clear() makes the very next frame silence', async () => {
    const h = await startServer({ formatWaitMs: 0 });
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      await call.format;
      call.playout.enqueue(tone(8000, 999), 'long');
      await peer.waitFor('some reply audio', () => peer.audioFrames.some((f) => !isSilent(f.payload)));
      call.playout.clear();
      const writtenBeforeClear = h.server.stats.framesOut;
      await peer.waitFor('two more frames', () => peer.audioFrames.length >= writtenBeforeClear + 2);
      const after = peer.audioFrames.slice(writtenBeforeClear);
      assert.ok(!isSilent(peer.audioFrames[writtenBeforeClear - 1]!.payload), 'audio was playing');
      assert.ok(after.every((f) => isSilent(f.payload)), 'silence from the first frame after clear()');
      peer.end();
    } finally {
      await h.close();
    }
  });

  test('a peer closing TCP ends the call: end event, aborted signal', async () => {
    const h = await startServer();
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      const ended = once(call, 'end');
      const serverEnd = once(h.server, 'callEnd');
      peer.socket.end();
      assert.deepEqual(await ended, ['peer_closed']);
      assert.equal((await serverEnd)[1], 'peer_closed');
      assert.equal(call.signal.aborted, true);
      assert.equal(call.signal.reason, 'peer_closed');
      await peer.closed;
      await waitFor(() => h.server.activeCalls === 0, 'the call to be gone');
    } finally {
      await h.close();
    }
  });

  test('a 0x00 from the peer ends the call as peer_hangup', async () => {
    const h = await startServer();
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      const ended = once(call, 'end');
      peer.send(encodeMessage({ type: 'hangup' }));
      assert.deepEqual(await ended, ['peer_hangup']);
      assert.ok(await peer.closedWithin(), 'server closes the socket');
    } finally {
      await h.close();
    }
  });

  test('hangUp() sends 0x00 last, then closes; it is idempotent', async () => {
    const h = await startServer({ formatWaitMs: 0 });
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      await peer.waitFor('a few frames', () => peer.audioFrames.length >= 3);
      call.hangUp();
      call.hangUp('protocol_error');
      assert.equal(call.endReason, 'hangup_sent');
      assert.ok(await peer.closedWithin(), 'socket closed');
      const last = peer.received.at(-1)!.message;
      assert.equal(last.type, 'hangup');
      assert.equal(peer.received.filter((f) => f.message.type === 'hangup').length, 1);
      call.playout.enqueue(tone(320, 1));
      // A frame written after the hang-up would arrive within a few frame slots.
      await sleep(50);
      assert.equal(peer.received.at(-1)!.message.type, 'hangup');
    } finally {
      await h.close();
    }
  });

  for (const { name, bytes, detail } of [
    { name: 'a short UUID payload', bytes: [0x01, 0x00, 0x0f, ...new Array<number>(15).fill(1)], detail: /UUID payload/ },
    { name: 'audio before the UUID', bytes: [0x10, 0x00, 0x02, 0, 0], detail: /not a UUID/ },
    { name: 'random bytes', bytes: [0x47, 0x45, 0x54, 0x20, 0x2f], detail: /unknown message kind/ },
  ]) {
    test(`${name} as the first message ends that connection with one log line`, async () => {
      const h = await startServer();
      try {
        const peer = await RawPeer.open(h.port);
        peer.send(bytes);
        assert.ok(await peer.closedWithin(), 'connection closed');
        assert.equal(h.calls.length, 0);
        const lines = h.logs.filter((l) => Number(l.level) >= 40);
        assert.equal(lines.length, 1);
        assert.match(String(lines[0]!.detail), detail);
        assert.equal(h.server.stats.handshakeFailures, 1);
      } finally {
        await h.close();
      }
    });
  }

  for (const { name, bytes, detail } of [
    { name: 'an unknown kind', bytes: [0x02, 0x00, 0x01, 0x00], detail: /unknown message kind 0x02/ },
    { name: 'an empty audio payload', bytes: [0x10, 0x00, 0x00], detail: /empty audio payload/ },
    { name: 'an absurd length', bytes: [0x10, 0xff, 0xf0], detail: /exceeds the limit/ },
    { name: 'a bad DTMF digit', bytes: [0x03, 0x00, 0x01, 0x5a], detail: /DTMF/ },
    { name: 'a second UUID', bytes: [...encodeMessage({ type: 'uuid', id: UUID_B })], detail: /second UUID/ },
  ]) {
    test(`${name} ends only that call, with one log line, while another call keeps getting frames`, async () => {
      const h = await startServer({ formatWaitMs: 0 });
      try {
        const nextA = h.nextCall();
        const good = await RawPeer.open(h.port, UUID_A);
        const goodCall = await nextA;
        const nextB = h.nextCall();
        const bad = await RawPeer.open(h.port, UUID_B);
        const badCall = await nextB;
        await bad.waitFor('a frame', () => bad.audioFrames.length > 0);
        const ended = once(badCall, 'end');
        bad.send(bytes);
        assert.deepEqual(await ended, ['protocol_error']);
        assert.ok(await bad.closedWithin());
        assert.equal(bad.received.at(-1)!.message.type, 'hangup');
        const lines = h.logs.filter((l) => l.callId === UUID_B && l.level === 40);
        assert.equal(lines.length, 1);
        assert.match(String(lines[0]!.detail), detail);
        const before = good.audioFrames.length;
        await good.waitFor('frames on the other call', () => good.audioFrames.length >= before + 3);
        assert.equal(goodCall.ended, false);
        assert.equal(h.server.stats.protocolErrors, 1);
        good.end();
      } finally {
        await h.close();
      }
    });
  }

  test('a handler that throws hangs up that call only', async () => {
    let n = 0;
    const h = await startServer({ formatWaitMs: 0 }, async (call) => {
      if (++n === 2) {
        await call.format;
        throw new Error('boom');
      }
    });
    try {
      const good = await RawPeer.open(h.port, UUID_A);
      await good.waitFor('a frame', () => good.audioFrames.length > 0);
      const bad = await RawPeer.open(h.port, UUID_B);
      assert.ok(await bad.closedWithin());
      assert.equal(bad.received.at(-1)!.message.type, 'hangup');
      assert.equal(h.server.stats.handlerErrors, 1);
      const before = good.audioFrames.length;
      await good.waitFor('frames on the good call', () => good.audioFrames.length > before + 2);
      good.end();
    } finally {
      await h.close();
    }
  });

  test('a listener that throws on audio hangs up that call, not the process', async () => {
    const h = await startServer({ formatWaitMs: 0 }, (call) => {
      call.on('audio', () => {
        throw new Error('listener bug');
      });
    });
    try {
      const peer = await RawPeer.open(h.port, UUID_A);
      await waitFor(() => h.calls.length === 1, 'the call');
      peer.audio(0x10, Buffer.alloc(320));
      assert.ok(await peer.closedWithin());
      assert.equal(h.calls[0]!.endReason, 'handler_error');
    } finally {
      await h.close();
    }
  });

  test('no inbound message for idleTimeoutMs ends the call', async () => {
    // Long enough that no stall of a loaded machine between two frames reaches it.
    const idleTimeoutMs = 2000;
    const h = await startServer({ idleTimeoutMs, formatWaitMs: 0 });
    try {
      const next = h.nextCall();
      const peer = await RawPeer.open(h.port, UUID_A);
      const call = await next;
      const t0 = performance.now();
      let lastSentAt = t0;
      // Frames 200 ms apart for longer than the idle timeout: the call stays up.
      while (performance.now() - t0 < idleTimeoutMs + 400) {
        await sleep(200);
        peer.audio(0x10, Buffer.alloc(320));
        lastSentAt = performance.now();
      }
      assert.equal(call.ended, false, 'inbound frames keep the call alive');
      await within(once(call, 'end'), 'the idle timeout');
      assert.equal(call.endReason, 'idle_timeout');
      assert.ok(performance.now() - lastSentAt >= idleTimeoutMs - 20, `ended ${Math.round(performance.now() - lastSentAt)} ms after the last frame`);
      assert.ok(await peer.closedWithin());
      assert.equal(peer.received.at(-1)!.message.type, 'hangup');
      assert.equal(h.server.stats.idleTimeouts, 1);
    } finally {
      await h.close();
    }
  });

  test('a connection without a UUID is closed after the handshake timeout', async () => {
    const h = await startServer({ handshakeTimeoutMs: 200 });
    try {
      const t0 = performance.now();
      const peer = await RawPeer.open(h.port);
      assert.ok(await peer.closedWithin());
      assert.ok(performance.now() - t0 >= 180);
      assert.equal(peer.received.length, 0);
      assert.equal(h.logs.filter((l) => l.reason === 'handshake_timeout').length, 1);
    } finally {
      await h.close();
    }
  });

  test('peers outside the allowlist are refused with one log line', async () => {
    const h = await startServer({ allow: ['10.0.0.0/8', 'fd00::/8'] });
    try {
      const peer = await RawPeer.open(h.port, UUID_A);
      assert.ok(await peer.closedWithin());
      assert.equal(h.calls.length, 0);
      assert.equal(h.server.stats.refused.allowlist, 1);
      assert.equal(h.logs.filter((l) => Number(l.level) >= 40).length, 1);
      assert.equal(h.logs.filter((l) => l.reason === 'allowlist' && Number(l.level) >= 40).length, 1);
    } finally {
      await h.close();
    }
    const ok = await startServer({ allow: ['10.0.0.0/8', '127.0.0.0/8'] });
    try {
      const next = ok.nextCall();
      const peer = await RawPeer.open(ok.port, UUID_A);
      assert.equal((await next).id, UUID_A);
      peer.end();
    } finally {
      await ok.close();
    }
  });

  test('connections above maxCalls are refused; the existing call is unaffected', async () => {
    const h = await startServer({ maxCalls: 1, formatWaitMs: 0 });
    try {
      const first = await RawPeer.open(h.port, UUID_A);
      await first.waitFor('a frame', () => first.audioFrames.length > 0);
      // Counted around this connection alone: a concurrent test's peer may reach a port it freed that this server now has.
      const refusedBefore = h.server.stats.refused.capacity;
      const second = await RawPeer.open(h.port, UUID_B);
      assert.ok(await second.closedWithin());
      assert.equal(second.received.length, 0);
      assert.equal(h.server.stats.refused.capacity - refusedBefore, 1);
      assert.equal(h.logs.filter((l) => l.reason === 'capacity').length, 1);
      const before = first.audioFrames.length;
      await first.waitFor('frames on the first call', () => first.audioFrames.length > before + 2);
      first.end();
    } finally {
      await h.close();
    }
  });

  test('stopAccepting() keeps existing calls; close() hangs them all up and resolves', async () => {
    const h = await startServer({ formatWaitMs: 0 });
    const a = await RawPeer.open(h.port, UUID_A);
    const b = await RawPeer.open(h.port, UUID_B);
    await a.waitFor('frames on both', () => a.audioFrames.length > 0 && b.audioFrames.length > 0);
    await h.server.stopAccepting();
    const refused = new RawPeer(h.port);
    const [err] = (await once(refused.socket, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
    const before = a.audioFrames.length;
    await a.waitFor('frames on the existing call', () => a.audioFrames.length > before + 2);
    await h.close();
    assert.equal(h.server.activeCalls, 0);
    for (const peer of [a, b]) {
      assert.ok(await peer.closedWithin());
      assert.equal(peer.received.at(-1)!.message.type, 'hangup');
    }
    assert.deepEqual(h.calls.map((c) => c.endReason), ['server_closed', 'server_closed']);
  });

  test('the echo pipeline plays the caller’s utterance back after they stop talking', async () => {
    const h = await startServer({ formatWaitMs: 0 }, createEchoHandler({ vadThreshold: 500, endOfSpeechMs: 200, echoMaxMs: 10_000 }));
    try {
      const peer = await RawPeer.open(h.port, UUID_A);
      const speech = tone(320, 3000);
      const silence = Buffer.alloc(640);
      for (let i = 0; i < 15; i++) {
        peer.audio(0x12, speech);
        await sleep(5);
      }
      for (let i = 0; i < 15; i++) peer.audio(0x12, silence);
      await peer.waitFor('echoed audio', () => peer.audioFrames.filter((f) => !isSilent(f.payload)).length >= 15);
      const echoed = peer.audioFrames.filter((f) => !isSilent(f.payload));
      assert.ok(echoed.every((f) => f.kind === 0x12 && f.payload.length === 640));
      assert.equal(echoed[0]!.payload.readInt16LE(0), 3000);
      peer.end();
    } finally {
      await h.close();
    }
  });

  test('the echo pipeline ends an utterance by the clock when frames stop', async () => {
    const h = await startServer({ formatWaitMs: 0 }, createEchoHandler({ vadThreshold: 500, endOfSpeechMs: 200, echoMaxMs: 10_000 }));
    try {
      const peer = await RawPeer.open(h.port, UUID_A);
      for (let i = 0; i < 10; i++) peer.audio(0x10, tone(160, 2500));
      await peer.waitFor('echoed audio', () => peer.audioFrames.filter((f) => !isSilent(f.payload)).length >= 10);
      peer.end();
    } finally {
      await h.close();
    }
  });
});

describe('allowlist', () => {
  test('IPv4 blocks match plain and IPv4-mapped IPv6 peers', () => {
    const allowed = createAllowlist(['192.168.1.0/24', '10.1.2.3']);
    assert.equal(allowed('192.168.1.77'), true);
    assert.equal(allowed('::ffff:192.168.1.77'), true);
    assert.equal(allowed('::FFFF:c0a8:0101'), true);
    assert.equal(allowed('192.168.2.1'), false);
    assert.equal(allowed('10.1.2.3'), true);
    assert.equal(allowed('10.1.2.4'), false);
    assert.equal(allowed(undefined), false);
    assert.equal(allowed('garbage'), false);
  });

  test('IPv6 blocks match with compression and zone ids', () => {
    const allowed = createAllowlist(['2001:db8::/32', '::1/128']);
    assert.equal(allowed('2001:db8:0:0:1::5'), true);
    assert.equal(allowed('2001:0db8:ffff::'), true);
    assert.equal(allowed('2001:db9::1'), false);
    assert.equal(allowed('::1'), true);
    assert.equal(allowed('fe80::1%eth0'), false);
    assert.equal(allowed('127.0.0.1'), false);
  });

  test('an empty list allows everyone; 0.0.0.0/0 allows only IPv4', () => {
    assert.equal(createAllowlist([])('2001:db8::1'), true);
    const v4 = createAllowlist(['0.0.0.0/0']);
    assert.equal(v4('8.8.8.8'), true);
    assert.equal(v4('::ffff:8.8.8.8'), true);
    assert.equal(v4('2001:db8::1'), false);
  });

  test('invalid blocks are rejected', () => {
    for (const bad of ['10.0.0.0/33', '256.1.1.1', '1.2.3', '::1/129', '1::2::3', 'fe80::/x', '10.0.0.0/8/8', '', 'g::1']) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
    assert.throws(() => createAllowlist(['nope']), /invalid CIDR/);
    assert.deepEqual(parseCidr('10.0.0.0/8'), { network: (0xffffn << 32n) | (10n << 24n), prefix: 104 });
  });
});

describe('main', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
  // Only what each test sets, plus PATH for the tsx launcher: nothing from the caller's environment.
  const envOf = (vars: Record<string, string>) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', ...vars });

  test('a bad configuration prints the problem and exits with code 2', async () => {
    const child = spawn(tsx, ['src/main.ts'], { cwd: root, env: envOf({ AUDIOSOCKET_PORT: 'abc' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(stderr, /AUDIOSOCKET_PORT/);
  });

  test('serves calls with silence frames and exits 0 on SIGTERM', async () => {
    const child = spawn(tsx, ['src/main.ts'], {
      cwd: root,
      env: envOf({ AUDIOSOCKET_PORT: '0', AUDIOSOCKET_HOST: '127.0.0.1', HTTP_PORT: '0', LOG_LEVEL: 'info', DRAIN_TIMEOUT_MS: '200' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          for (const line of stdout.split('\n')) {
            if (!line.includes('"listening"')) continue;
            const parsed = JSON.parse(line) as { port?: number; msg: string };
            if (parsed.port !== undefined) resolve(parsed.port);
          }
        });
        child.once('exit', (code) => reject(new Error(`main exited with ${code}: ${stdout}`)));
      });
      const peer = await RawPeer.open(port, UUID_A);
      await peer.waitFor('frames from main', () => peer.audioFrames.length >= 3);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
      assert.ok(await peer.closedWithin());
      assert.equal(peer.received.at(-1)!.message.type, 'hangup');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
