/** Replays a recorded Asterisk AudioSocket stream (.bin + .json timing) into a server. */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEADER_BYTES, MessageReader, type Message } from '../audiosocket/codec.js';

/** One recorded message: when it arrived and its exact bytes, header included. */
export interface CapturedMessage {
  atMs: number;
  kind: number;
  bytes: Buffer;
}

/** A whole capture: messages in wire order and when Asterisk closed, if it did. */
export interface Capture {
  messages: CapturedMessage[];
  closedAtMs: number | null;
}

/** Loads `<name>.bin` and the `<name>.json` beside it; throws if they disagree. */
export async function loadCapture(binPath: string): Promise<Capture> {
  const jsonPath = binPath.replace(/\.bin$/, '.json');
  const [bin, json] = await Promise.all([readFile(binPath), readFile(jsonPath, 'utf8')]);
  const meta = JSON.parse(json) as { messagesTiming?: [number, number, number][]; closedByAsteriskAtMs?: number | null };
  if (!Array.isArray(meta.messagesTiming)) throw new Error(`${jsonPath} has no messagesTiming`);
  const messages: CapturedMessage[] = [];
  let offset = 0;
  for (const [atMs, kind, length] of meta.messagesTiming) {
    const end = offset + HEADER_BYTES + length;
    if (end > bin.length || bin[offset] !== kind || bin.readUInt16BE(offset + 1) !== length) {
      throw new Error(`${binPath} does not match its timing at byte ${offset}`);
    }
    messages.push({ atMs, kind, bytes: bin.subarray(offset, end) });
    offset = end;
  }
  if (offset !== bin.length) throw new Error(`${binPath} has ${bin.length - offset} bytes not described by its timing`);
  return { messages, closedAtMs: meta.closedByAsteriskAtMs ?? null };
}

/** Options of `replayCapture`. */
export interface ReplayOptions {
  host?: string;
  port: number;
  capture: Capture;
  /** Shorten every pause between messages to at most this long (ms). */
  maxGapMs?: number;
  /** Stop after this much replayed time (ms, after gap shortening). */
  durationMs?: number;
  /** Keep the connection open this long after the last message before closing (ms). */
  holdMs?: number;
}

/** What the server sent back during a replay, and how the connection ended. */
export interface ReplayResult {
  sent: number;
  received: Message[];
  closedBy: 'client' | 'server';
}

/** Sends a capture's messages on their recorded schedule, then closes TCP as Asterisk does. */
export async function replayCapture(options: ReplayOptions): Promise<ReplayResult> {
  const host = options.host ?? '127.0.0.1';
  const socket = connect({ host, port: options.port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err) => reject(new Error(`cannot connect to ${host}:${options.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
  });
  const received: Message[] = [];
  const reader = new MessageReader();
  let serverClosed = false;
  socket.on('data', (chunk: Buffer) => {
    try {
      received.push(...reader.push(chunk));
    } catch {
      socket.destroy();
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('end', () => (serverClosed = true));

  const t0 = performance.now();
  let schedule = 0;
  let previous = options.capture.messages[0]?.atMs ?? 0;
  let sent = 0;
  for (const message of options.capture.messages) {
    schedule += Math.min(message.atMs - previous, options.maxGapMs ?? Infinity);
    previous = message.atMs;
    if (options.durationMs !== undefined && schedule > options.durationMs) break;
    const wait = t0 + schedule - performance.now();
    if (wait > 0) await sleep(wait);
    if (serverClosed || socket.destroyed) break;
    socket.write(message.bytes);
    sent++;
  }
  if (!serverClosed && options.holdMs) await Promise.race([sleep(options.holdMs), closed]);
  const closedBy = serverClosed ? 'server' : 'client';
  socket.destroy();
  await closed;
  return { sent, received, closedBy };
}
