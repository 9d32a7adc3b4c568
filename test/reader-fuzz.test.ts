import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeAudio, encodeMessage, MessageReader, type Message } from '../src/audiosocket/codec.js';
import { createAudioSocketServer } from '../src/audiosocket/server.js';
import { VoicebotError } from '../src/errors.js';
import { seededRandom } from './support/seeded-random.js';
import { waitFor } from './support/wait-for.js';

function randomBytes(rand: () => number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = Math.floor(rand() * 256);
  return buf;
}

/** A plausible stream: valid messages, then some bytes flipped, truncated or inserted. */
function mutatedStream(rand: () => number): Buffer {
  const parts: Buffer[] = [encodeMessage({ type: 'uuid', id: '11111111-2222-4333-8444-555555555555' })];
  const n = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.6) parts.push(encodeAudio([0x10, 0x12, 0x16][Math.floor(rand() * 3)]!, randomBytes(rand, 1 + Math.floor(rand() * 700))));
    else if (r < 0.8) parts.push(encodeMessage({ type: 'dtmf', digit: '0123456789*#ABCD'[Math.floor(rand() * 16)]! }));
    else if (r < 0.9) parts.push(encodeMessage({ type: 'error', code: Math.floor(rand() * 256) }));
    else parts.push(encodeMessage({ type: 'hangup' }));
  }
  const buf = Buffer.concat(parts);
  const flips = Math.floor(rand() * 4);
  for (let i = 0; i < flips; i++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
  return rand() < 0.3 ? buf.subarray(0, Math.floor(rand() * buf.length)) : buf;
}

type Outcome = { messages: Message[]; error: VoicebotError | undefined };

function feed(reader: MessageReader, chunks: Buffer[]): Outcome {
  const messages: Message[] = [];
  for (const chunk of chunks) {
    try {
      messages.push(...reader.push(chunk));
    } catch (err) {
      assert.ok(err instanceof VoicebotError, `threw ${String(err)}`);
      assert.equal(err.code, 'protocol_error');
      return { messages, error: err };
    }
  }
  return { messages, error: undefined };
}

function randomSplit(rand: () => number, buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const n = 1 + Math.floor(rand() * 64);
    chunks.push(buf.subarray(offset, offset + n));
    offset += n;
  }
  return chunks;
}

test('the reader only ever throws protocol errors, and chunking never changes what it reads', () => {
  const rand = seededRandom(20240611);
  let errors = 0;
  let messages = 0;
  for (let i = 0; i < 6000; i++) {
    const input = i % 2 === 0 ? randomBytes(rand, Math.floor(rand() * 600)) : mutatedStream(rand);
    const whole = feed(new MessageReader(4096), [input]);
    const chunked = feed(new MessageReader(4096), randomSplit(rand, input));
    assert.equal(chunked.error?.message, whole.error?.message, `input #${i}`);
    if (!whole.error) assert.deepEqual(chunked.messages, whole.messages, `input #${i}`);
    if (whole.error) errors++;
    messages += chunked.messages.length;
  }
  assert.ok(errors > 1000, `${errors} inputs rejected`);
  assert.ok(messages > 1000, `${messages} messages read`);
});

test('random bytes on thousands of live connections end only those calls', async () => {
  const server = createAudioSocketServer({
    config: { host: '127.0.0.1', port: 0, formatWaitMs: 0, handshakeTimeoutMs: 300, maxCalls: 1000 },
    onCall: () => {},
  });
  const { port } = await server.listen();
  const failures: unknown[] = [];
  const onUncaught = (err: unknown): void => void failures.push(err);
  process.on('uncaughtException', onUncaught);
  let keepAlive: NodeJS.Timeout | undefined;
  try {
    const good = connect(port, '127.0.0.1');
    await once(good, 'connect');
    good.write(encodeMessage({ type: 'uuid', id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }));
    // A frame a second keeps the good call clear of the idle timeout however long the flood lasts.
    keepAlive = setInterval(() => good.write(encodeAudio(0x10, Buffer.alloc(320))), 1000);
    // Bytes of the good call's frames as they arrive: a loaded receiver reads several per chunk.
    const arrivals: { at: number; bytes: number }[] = [];
    good.on('data', (chunk: Buffer) => arrivals.push({ at: performance.now(), bytes: chunk.length }));

    const rand = seededRandom(7);
    const fuzzOne = async (i: number): Promise<void> => {
      const socket: Socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('data', () => {});
      const closed = once(socket, 'close');
      await once(socket, 'connect');
      const input = i % 3 === 0 ? randomBytes(rand, 1 + Math.floor(rand() * 300)) : mutatedStream(rand);
      for (const chunk of randomSplit(rand, input)) socket.write(chunk);
      // A valid-looking stream stays open as a call; the peer then hangs up itself.
      await Promise.race([closed, sleep(150)]);
      socket.destroy();
      await closed;
    };
    const total = 2000;
    const parallel = 50;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < total) await fuzzOne(next++);
      }),
    );
    const elapsed = performance.now() - t0;

    assert.deepEqual(failures, []);
    // The peers run ahead of the server's accept loop on a loaded machine: it catches up.
    await waitFor(() => server.stats.accepted >= total + 1, 'every connection accepted');
    const stats = server.stats;
    assert.equal(stats.accepted, total + 1);
    assert.ok(stats.protocolErrors + stats.handshakeFailures > total / 3, `${stats.protocolErrors} protocol errors`);
    await waitFor(() => server.activeCalls === 1, 'only the good call to be left', 60_000).catch(() => {});
    const left = server.calls().map((c) => ({ id: c.id, ended: c.ended, ageMs: Date.now() - c.startedAt }));
    assert.equal(server.activeCalls, 1, `only the good call is left: ${JSON.stringify({ left, stats: server.stats })}`);
    assert.equal(server.calls()[0]!.id, 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
    // The flood did not stop the good call's clock: its frames, and the time a loaded machine made
    // it skip, cover the flood; and every frame it wrote reached the caller.
    const { framesWritten, lostMs } = server.calls()[0]!.playout.stats;
    assert.ok(framesWritten * 20 + lostMs >= elapsed * 0.9, `${framesWritten} frames + ${Math.round(lostMs)} ms skipped in ${Math.round(elapsed)} ms`);
    // 8 kHz silence frames of 323 bytes, header included.
    await waitFor(() => arrivals.reduce((n, a) => n + a.bytes, 0) / 323 >= framesWritten, 'the good call\'s frames');
    good.destroy();
  } finally {
    clearInterval(keepAlive);
    process.off('uncaughtException', onUncaught);
    await server.close();
  }
});
