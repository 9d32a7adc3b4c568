/** What a fake records about the TCP connections clients open to it. */
import type { Server, Socket } from 'node:net';

/** One TCP connection a client opened. */
export interface FakeConnection {
  /** `address:port` of the client: requests on this connection carry the same `peer`. */
  peer: string;
  /** `performance.now()` at accept. */
  openedAt: number;
}

/** `address:port` of the client end of a socket. */
export function peerOf(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

/** Records every connection `server` accepts, in order. */
export function recordConnections(server: Server): FakeConnection[] {
  const connections: FakeConnection[] = [];
  server.on('connection', (socket: Socket) => connections.push({ peer: peerOf(socket), openedAt: performance.now() }));
  return connections;
}
