/** A bare AudioSocket server on 127.0.0.1 port 0 that records what the caller sends and lets a test answer. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { MessageReader, type Message } from '../../src/audiosocket/codec.js';

/** One message the peer received, with its arrival time (performance.now()). */
export interface Seen {
  at: number;
  message: Message;
}

/** One connection the peer accepted. */
export interface PeerSession {
  socket: Socket;
  seen: Seen[];
  closedAt: Promise<number>;
}

/** Starts the peer; `onSocket` runs for each connection as it is accepted. */
export async function startAudioSocketPeer(onSocket: (socket: Socket, seen: Seen[]) => void = () => {}) {
  const sessions: PeerSession[] = [];
  const server: Server = createServer((socket) => {
    const seen: Seen[] = [];
    const reader = new MessageReader();
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) seen.push({ at: performance.now(), message });
    });
    socket.on('error', () => {});
    const closedAt = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
    sessions.push({ socket, seen, closedAt });
    onSocket(socket, seen);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    sessions,
    close: () => {
      for (const s of sessions) s.socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The audio messages among `seen`, with their arrival times. */
export function audioOf(seen: readonly Seen[]): { at: number; kind: number; payload: Buffer }[] {
  return seen.flatMap((s) => (s.message.type === 'audio' ? [{ at: s.at, kind: s.message.kind, payload: s.message.payload }] : []));
}
