/** An agent's business tools as the agents file declares them, validated with the rest of the agent. */
import { HANG_UP, TRANSFER } from '../llm/tools.js';
import { allowHostProblem, parseMcpServerDeclarations, parseToolDeclarations, type Env, type HttpToolDecl, type McpServerDecl } from '../tools/index.js';

/** What an agent may call, and how much of it. */
export interface AgentToolSettings {
  http: readonly HttpToolDecl[];
  mcp: readonly McpServerDecl[];
  /** Hosts the agent's tools may reach: `host`, `host:port` or `*.suffix`. */
  allowHosts: readonly string[];
  /** Model requests in one turn: the first, plus one per round of tool results. */
  maxRounds: number;
  /** Tool calls in one call, all turns together. */
  maxCallsPerCall: number;
  /** A tool round still running after this long gets the filler line, ms. */
  fillerDelayMs: number;
}

/** The raw `tools`, `mcp` and `allowHosts` of an agent entry, and its limits. */
export interface AgentToolEntry {
  tools?: unknown[] | undefined;
  mcp?: unknown[] | undefined;
  allowHosts?: string[] | undefined;
  toolRounds?: number | undefined;
  maxToolCalls?: number | undefined;
  fillerDelayMs?: number | undefined;
}

/** Defaults of the limits, for agents and the environment's bot. */
export const TOOL_DEFAULTS = { maxRounds: 3, maxCallsPerCall: 10, fillerDelayMs: 700 } as const;

/** Validates and resolves an agent's tools; `${env:NAME}` secrets come from `env`. */
export function agentTools(entry: AgentToolEntry, env: Env, problem: (path: string, message: string) => void): AgentToolSettings {
  const reservedNames = [HANG_UP, TRANSFER];
  const http = parseToolDeclarations(entry.tools ?? [], env, { reservedNames });
  for (const p of http.problems) problem(`tools${p.path.startsWith('[') ? '' : '.'}${p.path}`, p.message);
  const mcp = parseMcpServerDeclarations(entry.mcp ?? [], env);
  for (const p of mcp.problems) problem(`mcp${p.path.startsWith('[') ? '' : '.'}${p.path}`, p.message);
  const allowHosts = entry.allowHosts ?? [];
  allowHosts.forEach((pattern, i) => {
    const why = allowHostProblem(pattern);
    if (why !== undefined) problem(`allowHosts[${i}]`, why);
  });
  return {
    http: http.tools,
    mcp: mcp.servers,
    allowHosts,
    maxRounds: entry.toolRounds ?? TOOL_DEFAULTS.maxRounds,
    maxCallsPerCall: entry.maxToolCalls ?? TOOL_DEFAULTS.maxCallsPerCall,
    fillerDelayMs: entry.fillerDelayMs ?? TOOL_DEFAULTS.fillerDelayMs,
  };
}
