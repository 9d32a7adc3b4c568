import { performance } from 'node:perf_hooks';
import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import type { Logger } from '../logger.js';
import { compileArguments, offeredSchema, parseArgumentsJson, type ArgumentsValidator } from './arguments.js';
import { callHttpTool } from './http-call.js';
import { TOOL_NAME, type HttpToolDecl } from './http-declarations.js';
import { createHostPolicy, type HostPolicy } from './host-policy.js';
import type { McpServerDecl } from './mcp-declarations.js';
import { createMcpPool, type McpLease, type McpPool } from './mcp-pool.js';
import { mcpResultText } from './mcp-result.js';
import { truncate } from './response-text.js';
import { scrub, type Secret } from './secret.js';
import { literalPrefix } from './template.js';
import { errorAnswerText, FAILURE_TEXT, invalidArgumentsText, unknownToolText, type ToolOutcome, type ToolResult } from './tool-result.js';

/** Everything one agent's toolbox needs. */
export interface ToolboxOptions {
  http: readonly HttpToolDecl[];
  mcp: readonly McpServerDecl[];
  /** Hosts the agent's tools may reach: `host`, `host:port` or `*.suffix`. */
  allowHosts: readonly string[];
  /** The ARI URL and this server's own HTTP host:port: no tool reaches them unless it says `allowInternal`. */
  deniedOrigins?: readonly string[];
  log: Logger;
  /** Names of built-in tools, never taken by an MCP tool. */
  reservedNames?: readonly string[];
  /** Connections shared with other agents; by default the toolbox has its own. */
  mcpPool?: McpPool;
  /** How long `definitions()` waits for an MCP server still connecting (the first time, or reconnecting). */
  connectWaitMs?: number;
}

/** The business tools of one agent: what to offer the model, and how to run what it calls. */
export interface Toolbox {
  /** The tools to offer on this turn: the HTTP tools and the allowed tools of the MCP servers that are up. */
  definitions(): Promise<ChatCompletionFunctionTool[]>;
  /** Runs one tool call; every failure is a result for the model, never a throw. */
  run(name: string, argsJson: string, signal: AbortSignal): Promise<ToolResult>;
  close(): Promise<void>;
}

interface McpEntry {
  server: McpServerDecl;
  lease: McpLease;
  tool: string;
  validate: ArgumentsValidator;
}

/** The toolbox of an agent. HTTP tools whose fixed host the policy refuses are left out, with one warning. */
export function createToolbox(options: ToolboxOptions): Toolbox {
  const log = options.log.child({ component: 'tools' });
  const policy: HostPolicy = createHostPolicy(options.allowHosts, options.deniedOrigins);
  const reserved = new Set(options.reservedNames ?? []);
  const http = new Map<string, { tool: HttpToolDecl; validate: ArgumentsValidator }>();
  for (const tool of options.http) {
    const refusal = fixedHostRefusal(tool, policy);
    if (refusal !== undefined) log.warn({ tool: tool.name, reason: refusal }, 'http tool left out');
    else if (reserved.has(tool.name)) log.warn({ tool: tool.name }, 'http tool left out: the name is a built-in tool');
    else http.set(tool.name, { tool, validate: compileArguments(tool.parameters) });
  }
  const httpDefinitions = [...http.values()].map(({ tool }) => definition(tool.name, tool.description, tool.parameters));
  const ownPool = options.mcpPool === undefined;
  const pool = options.mcpPool ?? createMcpPool({ log: options.log });
  const leases: { server: McpServerDecl; lease: McpLease }[] = [];
  for (const server of options.mcp) {
    const refusal = server.url === undefined ? undefined : policy.refusal(server.url.reveal(), server.allowInternal);
    if (refusal !== undefined) log.warn({ mcpServer: server.name, reason: refusal }, 'mcp server left out');
    else leases.push({ server, lease: pool.acquire(server) });
  }
  const connectWaitMs = options.connectWaitMs ?? 1500;
  // Every MCP tool ever offered, so a call to one whose server went away reads "unavailable".
  const known = new Map<string, McpEntry>();
  const warnedOnce = new Set<string>();
  const warnOnce = (key: string, fields: Record<string, unknown>, message: string) => {
    if (warnedOnce.has(key)) return;
    warnedOnce.add(key);
    log.warn(fields, message);
  };

  const definitions = async (): Promise<ChatCompletionFunctionTool[]> => {
    await Promise.all(leases.map(({ lease }) => lease.connection.settle(connectWaitMs)));
    const out = [...httpDefinitions];
    const taken = new Set([...reserved, ...http.keys()]);
    for (const { server, lease } of leases) {
      const all = server.allowTools.includes('*');
      for (const tool of lease.connection.tools()) {
        if (!all && !server.allowTools.includes(tool.name)) continue;
        const name = server.prefix + tool.name;
        if (!TOOL_NAME.test(name)) {
          warnOnce(`name:${server.name}:${tool.name}`, { mcpServer: server.name, tool: tool.name }, 'mcp tool left out: its name is not usable');
          continue;
        }
        if (taken.has(name)) {
          warnOnce(`taken:${server.name}:${name}`, { mcpServer: server.name, tool: name }, 'mcp tool left out: the name is taken');
          continue;
        }
        let validate: ArgumentsValidator;
        try {
          validate = compileArguments(tool.inputSchema);
        } catch {
          warnOnce(`schema:${server.name}:${tool.name}`, { mcpServer: server.name, tool: name }, 'mcp tool left out: its input schema is invalid');
          continue;
        }
        taken.add(name);
        known.set(name, { server, lease, tool: tool.name, validate });
        out.push(definition(name, tool.description ?? tool.title ?? tool.name, tool.inputSchema));
      }
    }
    return out;
  };

  const run = async (name: string, argsJson: string, signal: AbortSignal): Promise<ToolResult> => {
    const started = performance.now();
    const finish = (outcome: ToolOutcome, content: string, secrets: readonly Secret[], extra: Record<string, unknown> = {}): ToolResult => {
      const durationMs = Math.round(performance.now() - started);
      // An MCP server that went away has had its one warning already.
      const quiet = outcome === 'ok' || outcome === 'aborted' || outcome === 'invalid_arguments' || (outcome === 'unavailable' && extra.mcpServer !== undefined);
      const fields = { tool: name, outcome, durationMs, ...extra, ...(typeof extra.detail === 'string' ? { detail: scrub(extra.detail, secrets) } : {}) };
      if (quiet) log.info(fields, 'tool call');
      else log.warn(fields, 'tool call failed');
      return { ok: outcome === 'ok', content: scrub(content, secrets), durationMs, outcome };
    };

    const httpTool = http.get(name);
    if (httpTool === undefined && !known.has(name) && leases.length > 0) await definitions();
    const mcp = known.get(name);
    if (httpTool === undefined && mcp === undefined) return finish('unknown_tool', unknownToolText(name), []);
    const secrets = httpTool?.tool.secrets ?? mcp!.server.secrets;
    const extra = mcp === undefined ? {} : { mcpServer: mcp.server.name };
    if (signal.aborted) return finish('aborted', FAILURE_TEXT.aborted, secrets, extra);

    const parsed = parseArgumentsJson(argsJson);
    const checked = parsed.ok ? (httpTool?.validate ?? mcp!.validate)(parsed.value) : parsed;
    log.debug({ tool: name, arguments: parsed.ok ? parsed.value : argsJson }, 'tool arguments');
    if (!checked.ok) return finish('invalid_arguments', invalidArgumentsText(checked.message), secrets, extra);

    if (httpTool !== undefined) {
      const result = await callHttpTool(httpTool.tool, checked.value, signal, policy);
      return finish(result.outcome, result.content, secrets, { status: result.status, detail: result.detail });
    }
    const { server, lease, tool } = mcp!;
    const outcome = await lease.connection.call(tool, checked.value, { signal, timeoutMs: server.timeoutMs });
    switch (outcome.kind) {
      case 'result': {
        const { text, isError } = mcpResultText(outcome.result, server.maxChars);
        if (isError) return finish('tool_error', errorAnswerText('The tool failed', text), secrets, extra);
        return finish('ok', text, secrets, extra);
      }
      case 'error':
        return finish('tool_error', errorAnswerText('The tool failed', truncate(outcome.message, 300)), secrets, { ...extra, detail: outcome.message });
      default:
        return finish(outcome.kind, FAILURE_TEXT[outcome.kind], secrets, extra);
    }
  };

  return {
    definitions,
    run,
    async close() {
      const held = leases.splice(0);
      await Promise.all(held.map(({ lease }) => lease.release()));
      if (ownPool) await pool.close();
    },
  };
}

function definition(name: string, description: string, parameters: Readonly<Record<string, unknown>>): ChatCompletionFunctionTool {
  return { type: 'function', function: { name, description, parameters: offeredSchema(parameters) } };
}

/** Why the policy refuses a tool whose URL has a fixed host, checked once when the toolbox is made. */
function fixedHostRefusal(tool: HttpToolDecl, policy: HostPolicy): string | undefined {
  const prefix = literalPrefix(tool.url);
  // With placeholders, the host is fixed only if the text before the first one goes past it.
  if (tool.url.some((part) => 'param' in part) && !/^https?:\/\/[^/?#]+[/?#]/i.test(prefix)) return undefined;
  try {
    return policy.refusal(new URL(prefix), tool.allowInternal);
  } catch {
    return undefined;
  }
}
