/** Serves a grpc-js server on 127.0.0.1 at a free port through our own TCP listener, so a fake sees every connection. */
import * as grpc from '@grpc/grpc-js';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { recordConnections, type FakeConnection } from './connections.js';

export type { FakeConnection } from './connections.js';

/** The listening side of a fake gRPC server. */
export interface GrpcListener {
  port: number;
  connections: FakeConnection[];
  /** Destroys every open connection, as a server restart or a network fault would. */
  dropConnections(): void;
  close(): void;
}

/**
 * Accepts connections on 127.0.0.1:0 and hands each to `server` (insecure), recording it first;
 * `connectDelayMs` holds each new connection that long, as a TLS handshake over a real network would.
 */
export async function listenGrpc(server: grpc.Server, connectDelayMs = 0): Promise<GrpcListener> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (connectDelayMs > 0) setTimeout(() => !socket.destroyed && injector.injectConnection(socket), connectDelayMs);
    else injector.injectConnection(socket);
  });
  const connections = recordConnections(tcp);
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return {
    port: (tcp.address() as AddressInfo).port,
    connections,
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    close() {
      injector.destroy();
      for (const socket of sockets) socket.destroy();
      tcp.close();
    },
  };
}
