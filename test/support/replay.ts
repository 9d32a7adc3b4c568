/** Replays a capture's first seconds on their schedule, then keeps the line open until the server closes it. */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageReader, type Message } from '../../src/audiosocket/codec.js';
import type { Capture } from '../../src/sim/capture.js';

/** A pause in the schedule: before the first message due at `atMs`, wait for `until`; later ones move by as much. */
export interface ReplayHold {
  atMs: number;
  until: () => Promise<unknown>;
}

/**
 * Sends the messages of `capture` scheduled within `durationMs`, as Asterisk did, and resolves with
 * what the server sent once the server has closed the connection (no timer of its own is left behind).
 */
export async function replayUntilClosed(port: number, capture: Capture, durationMs: number, hold?: ReplayHold): Promise<Message[]> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const received: Message[] = [];
  const reader = new MessageReader();
  socket.on('data', (chunk: Buffer) => received.push(...reader.push(chunk)));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let t0 = performance.now();
  let held = hold === undefined;
  const first = capture.messages[0]?.atMs ?? 0;
  for (const message of capture.messages) {
    const schedule = message.atMs - first;
    if (schedule > durationMs || socket.destroyed) break;
    if (!held && schedule >= hold!.atMs) {
      held = true;
      const due = t0 + schedule;
      await hold!.until();
      t0 += Math.max(0, performance.now() - due);
    }
    const wait = t0 + schedule - performance.now();
    if (wait > 0) await sleep(wait);
    socket.write(message.bytes);
  }
  await closed;
  return received;
}
