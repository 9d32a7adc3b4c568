import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { closeChannels, startStack } from './support/stack.js';
import { startStuckPeer } from './support/stuck-peer.js';
import { waitFor } from './support/wait-for.js';

after(() => closeChannels());

const CALL_ID = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
// 192 kHz frames (0x18, 7680 bytes per 20 ms) fill the kernel's send queue within about 4 s.
const KIND_192K = 0x18;
const FRAME_192K = 7680;

describe('a call ends on time whatever the peer does', { concurrency: true }, () => {
  for (const ending of ['max_duration', 'drain'] as const) {
    test(`${ending} ends a call whose peer stopped reading, and its provider streams close`, async () => {
      const stack = await startStack({
        env: {
          BOT_LANGUAGE: 'ru',
          LOG_LEVEL: 'info',
          MAX_CALL_MS: ending === 'max_duration' ? '6000' : '900000',
          LAST_PHRASE_MAX_MS: '500',
          // The write timeout would end it too; here the ending under test must do it.
          AUDIOSOCKET_WRITE_TIMEOUT_MS: '60000',
          AUDIOSOCKET_IDLE_TIMEOUT_MS: '60000',
        },
      });
      const peer = await startStuckPeer(stack.port, CALL_ID, KIND_192K, FRAME_192K);
      try {
        const summary = stack.nextSummary(60_000);
        if (ending === 'drain') {
          // Drain once the socket has been blocked for a while.
          const call = await waitFor(() => stack.server.calls()[0], 'the call');
          await waitFor(() => call.playout.stats.backpressureSkips > 50, 'the socket to stay blocked', 30_000);
          void stack.app.goodbye(call);
        }
        const done = await summary;
        assert.equal(done.outcome, ending);
        // Not by the 60 s write or idle timeouts: by the maximum duration and its last-phrase bound.
        if (ending === 'max_duration') assert.ok(done.durationMs < 30_000, `ended after ${done.durationMs} ms`);
        await peer.closed;
        await waitFor(() => stack.stt.stats.openStreams === 0, 'the recognizer stream to close');
        assert.equal(stack.server.activeCalls, 0);
      } finally {
        peer.kill();
        await stack.close();
      }
    });
  }
});
