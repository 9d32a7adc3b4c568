import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createAudioSocketServer, type AudioSocketCall, type EndReason } from '../src/audiosocket/server.js';
import { createLogger } from '../src/logger.js';
import { startStuckPeer } from './support/stuck-peer.js';
import { waitFor } from './support/wait-for.js';

const UUID = '5b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3';

function logSink(): { lines: Record<string, any>[]; stream: Writable } {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('AudioSocket server against rude peers', { concurrency: true }, () => {
  test('a flood of connections that never send a UUID is counted, and logged in a bounded number of lines', async () => {
    const { lines, stream } = logSink();
    const server = createAudioSocketServer({
      config: { host: '127.0.0.1', port: 0, handshakeTimeoutMs: 200 },
      log: createLogger('info', stream),
      onCall: () => assert.fail('no call may start'),
    });
    const { port } = await server.listen();
    const N = 300;
    try {
      const peers = Array.from({ length: N }, (_, i) => {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => {});
        // A third close at once, a third send junk, a third say nothing until the handshake timeout.
        socket.once('connect', () => {
          if (i % 3 === 0) socket.destroy();
          else if (i % 3 === 1) socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
        });
        return once(socket, 'close');
      });
      await Promise.all(peers);
      await waitFor(() => server.stats.handshakeFailures >= N, 'every connection counted', 30_000);
      assert.equal(server.stats.handshakeFailures, N);
      const warnings = lines.filter((l) => l.level >= 40);
      assert.ok(warnings.length >= 1 && warnings.length <= 2, `${warnings.length} warning lines for ${N} junk connections`);
    } finally {
      await server.close();
    }
    // Closing writes the summary of what the interval had not reported yet: still one line.
    const warnings = lines.filter((l) => l.level >= 40);
    assert.ok(warnings.length <= 2, `${warnings.length} warning lines`);
    const counted = warnings.reduce((n, l) => n + (l.rejected ?? 1), 0);
    assert.equal(counted, N, 'the summary accounts for every rejected connection');
  });

  test('a peer that keeps sending but never reads is hung up once the socket stays blocked', async () => {
    const { lines, stream } = logSink();
    const ended: { reason: EndReason; at: number }[] = [];
    const server = createAudioSocketServer({
      config: { host: '127.0.0.1', port: 0, writeTimeoutMs: 500, idleTimeoutMs: 60_000 },
      log: createLogger('info', stream),
      onCall: (call: AudioSocketCall) => {
        call.once('end', (reason) => ended.push({ reason, at: performance.now() }));
      },
    });
    const { port } = await server.listen();
    // 192 kHz frames (0x18, 7680 bytes per 20 ms) fill the kernel's send queue within seconds.
    const peer = await startStuckPeer(port, UUID, 0x18, 7680);
    try {
      await peer.closed;
      assert.equal(ended.length, 1);
      assert.equal(ended[0]!.reason, 'write_timeout');
      assert.equal(server.stats.writeTimeouts, 1);
      // One fault, one line: the call's end, at warning level, with its reason.
      const warnings = lines.filter((l) => l.callId === UUID && l.level >= 40);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.reason, 'write_timeout');
    } finally {
      peer.kill();
      await server.close();
    }
  });
});
