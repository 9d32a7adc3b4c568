import type { Logger } from '../logger.js';
import { createMcpConnection, type McpConnection, type ReconnectPolicy } from './mcp-connection.js';
import type { McpServerDecl } from './mcp-declarations.js';

/** A connection lent by the pool; `release` gives it back (the last release closes it). */
export interface McpLease {
  readonly connection: McpConnection;
  release(): Promise<void>;
}

/** MCP connections shared by every agent that declares the same server (same address and headers, or same command). */
export interface McpPool {
  acquire(server: McpServerDecl): McpLease;
  close(): Promise<void>;
}

/** Options of an MCP pool. */
export interface McpPoolOptions {
  log: Logger;
  /** Time allowed to connect and list tools, and for a liveness ping. */
  connectTimeoutMs?: number;
  reconnect?: Partial<ReconnectPolicy>;
}

/** A pool of MCP connections, one per distinct server, each reconnecting on its own. */
export function createMcpPool(options: McpPoolOptions): McpPool {
  const entries = new Map<string, { connection: McpConnection; users: number }>();
  const reconnect: ReconnectPolicy = { baseDelayMs: 500, maxDelayMs: 30_000, ...options.reconnect };
  const log = options.log.child({ component: 'mcp' });
  return {
    acquire(server) {
      const key = JSON.stringify(server.transport.reveal());
      let entry = entries.get(key);
      if (entry === undefined) {
        const connection = createMcpConnection(server.name, server.transport.reveal(), {
          log,
          connectTimeoutMs: options.connectTimeoutMs ?? 5000,
          reconnect,
        });
        entry = { connection, users: 0 };
        entries.set(key, entry);
      }
      entry.users += 1;
      const held = entry;
      let released = false;
      return {
        connection: held.connection,
        async release() {
          if (released) return;
          released = true;
          held.users -= 1;
          if (held.users > 0 || entries.get(key) !== held) return;
          entries.delete(key);
          await held.connection.close();
        },
      };
    },
    async close() {
      const all = [...entries.values()];
      entries.clear();
      await Promise.all(all.map((entry) => entry.connection.close()));
    },
  };
}
