import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import type { McpTransportConfig } from './mcp-declarations.js';
import type { McpToolResult } from './mcp-result.js';

/** Delays between reconnect attempts: doubling from `baseDelayMs` up to `maxDelayMs`, with jitter. */
export interface ReconnectPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Where a connection is. */
export type McpStatus = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

/** How a call through a connection ended. */
export type McpCallOutcome =
  | { kind: 'result'; result: McpToolResult }
  | { kind: 'unavailable' }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'error'; message: string };

/** Options of one connection. */
export interface McpConnectionOptions {
  log: Logger;
  connectTimeoutMs: number;
  reconnect: ReconnectPolicy;
}

/** One long-lived MCP session with a server, renewed with backoff when it drops. */
export interface McpConnection {
  readonly name: string;
  status(): McpStatus;
  /** Starts connecting if nothing has started; waits at most `waitMs` for the first attempt to end (never for a reconnect). */
  settle(waitMs: number): Promise<void>;
  /** The server's tools while up (refreshed on reconnect and list changes); empty otherwise. */
  tools(): readonly Tool[];
  call(tool: string, args: Record<string, unknown>, options: { signal: AbortSignal; timeoutMs: number }): Promise<McpCallOutcome>;
  close(): Promise<void>;
}

const CLIENT_INFO = { name: 'audiosocket-voicebot', version: '0.1.0' };
const MAX_TOOL_PAGES = 20;

/** The parts of the MCP SDK a connection uses. */
interface Sdk {
  Client: typeof import('@modelcontextprotocol/sdk/client/index.js').Client;
  StdioClientTransport: typeof import('@modelcontextprotocol/sdk/client/stdio.js').StdioClientTransport;
  StreamableHTTPClientTransport: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPClientTransport;
  McpError: typeof import('@modelcontextprotocol/sdk/types.js').McpError;
  ErrorCode: typeof import('@modelcontextprotocol/sdk/types.js').ErrorCode;
}

/** Set once the SDK is loaded: a server whose agents name no MCP server never loads it (about 4 MB of heap). */
let sdk: Sdk | undefined;
let sdkLoading: Promise<Sdk> | undefined;

function loadSdk(): Promise<Sdk> {
  sdkLoading ??= Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]).then(([client, stdio, http, types]) => {
    sdk = {
      Client: client.Client,
      StdioClientTransport: stdio.StdioClientTransport,
      StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
      McpError: types.McpError,
      ErrorCode: types.ErrorCode,
    };
    return sdk;
  });
  return sdkLoading;
}

/** A connection to the server `config` describes; nothing happens until `settle` is called. */
export function createMcpConnection(name: string, config: McpTransportConfig, options: McpConnectionOptions): McpConnection {
  const log = options.log.child({ mcpServer: name });
  let status: McpStatus = 'idle';
  let client: Client | undefined;
  let tools: readonly Tool[] = [];
  let attempt = 0;
  let warned = false;
  let probing = false;
  let timer: NodeJS.Timeout | undefined;
  let first: Promise<void> | undefined;

  const isClosed = () => status === 'closed';

  const connect = (): Promise<void> => {
    status = 'connecting';
    return open();
  };

  const open = async (): Promise<void> => {
    let loaded: Sdk;
    try {
      loaded = await loadSdk();
    } catch (err) {
      // A broken install, not a server that is down: retrying would not help.
      status = 'down';
      log.error({ err: describe(err) }, 'mcp sdk failed to load');
      return;
    }
    // Closed while the SDK loaded: nothing to open.
    if (isClosed()) return;
    const next = new loaded.Client(CLIENT_INFO, {
      listChanged: { tools: { autoRefresh: false, debounceMs: 50, onChanged: () => void refresh(next) } },
    });
    next.onerror = () => probe(next);
    next.onclose = () => lost(next, 'the connection closed');
    try {
      await next.connect(transportFor(loaded, config), { timeout: options.connectTimeoutMs });
      const listed = await listTools(next, options.connectTimeoutMs);
      if (status === 'closed') throw new Error('closed');
      client = next;
      tools = listed;
      status = 'up';
      log.info({ tools: listed.length, attempts: attempt, reconnected: warned }, 'mcp server connected');
      attempt = 0;
      warned = false;
    } catch (err) {
      await next.close().catch(() => {});
      if (status === 'closed') return;
      status = 'down';
      if (!warned) log.warn({ err: describe(err) }, 'mcp server unavailable');
      else log.debug({ err: describe(err), attempt }, 'mcp reconnect failed');
      warned = true;
      schedule();
    }
  };

  const schedule = () => {
    attempt += 1;
    const exponential = Math.min(options.reconnect.maxDelayMs, options.reconnect.baseDelayMs * 2 ** (attempt - 1));
    timer = setTimeout(() => {
      timer = undefined;
      if (status === 'down') void connect();
    }, Math.round(exponential * (0.75 + Math.random() / 2)));
    timer.unref();
  };

  /** The session is gone: its tools leave the offer until a reconnect brings them back. */
  const lost = (which: Client, why: string) => {
    if (which !== client || status !== 'up') return;
    client = undefined;
    tools = [];
    status = 'down';
    log.warn({ err: why }, 'mcp server unavailable');
    warned = true;
    void which.close().catch(() => {});
    schedule();
  };

  // A transport error may be harmless (a notification that failed); a ping tells whether the session lives.
  const probe = (which: Client) => {
    if (which !== client || probing) return;
    probing = true;
    which
      .ping({ timeout: options.connectTimeoutMs })
      .catch((err: unknown) => lost(which, describe(err)))
      .finally(() => {
        probing = false;
      });
  };

  const refresh = async (which: Client) => {
    try {
      const listed = await listTools(which, options.connectTimeoutMs);
      if (which === client) {
        tools = listed;
        log.info({ tools: listed.length }, 'mcp tools changed');
      }
    } catch (err) {
      lost(which, describe(err));
    }
  };

  return {
    name,
    status: () => status,
    tools: () => (status === 'up' ? tools : []),
    async settle(waitMs) {
      if (status === 'idle') first = connect();
      if (status !== 'connecting' || first === undefined) return;
      const wait = new AbortController();
      await Promise.race([first, sleep(waitMs, undefined, { signal: wait.signal, ref: false }).catch(() => {})]);
      wait.abort();
    },
    async call(tool, args, { signal, timeoutMs }) {
      const current = client;
      if (status !== 'up' || current === undefined) return { kind: 'unavailable' };
      // A signal per call: the SDK never removes the listener it adds.
      const call = new AbortController();
      const onAbort = () => call.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const result = await current.callTool({ name: tool, arguments: args }, undefined, { signal: call.signal, timeout: timeoutMs });
        return { kind: 'result', result };
      } catch (err) {
        if (signal.aborted) return { kind: 'aborted' };
        const { McpError, ErrorCode } = sdk!;
        if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) return { kind: 'timeout' };
        if (err instanceof McpError && err.code !== ErrorCode.ConnectionClosed) return { kind: 'error', message: err.message };
        lost(current, describe(err));
        return { kind: 'unavailable' };
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async close() {
      status = 'closed';
      clearTimeout(timer);
      const current = client;
      client = undefined;
      tools = [];
      await current?.close().catch(() => {});
    },
  };
}

function transportFor({ StreamableHTTPClientTransport, StdioClientTransport }: Sdk, config: McpTransportConfig): Transport {
  if (config.kind === 'http') {
    return new StreamableHTTPClientTransport(new URL(config.url), {
      requestInit: { headers: config.headers },
      redirectPolicy: 'same-origin',
      // Reconnecting is this connection's job: a dropped event stream is reported at once.
      reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
    });
  }
  return new StdioClientTransport({ command: config.command, args: config.args, env: config.env, cwd: config.cwd, stderr: 'ignore' });
}

async function listTools(client: Client, timeoutMs: number): Promise<Tool[]> {
  const out: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: timeoutMs });
    out.push(...result.tools);
    cursor = result.nextCursor;
    if (cursor === undefined) break;
  }
  return out;
}

/** A short description of a failure for the log: never a URL or a header. */
function describe(err: unknown): string {
  if (sdk !== undefined && err instanceof sdk.McpError) return `mcp error ${err.code}`;
  const code = (err as { code?: unknown; cause?: { code?: unknown } } | undefined)?.cause?.code ?? (err as { code?: unknown })?.code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return err instanceof Error ? err.name : 'unknown error';
}
