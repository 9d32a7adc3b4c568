import { z } from 'zod';
import { TOOL_NAME } from './http-declarations.js';
import { forEachNamedEntry, type Problem } from './problems.js';
import { Secret } from './secret.js';
import { parseTemplate, type Env, type Template, type TemplateContext } from './template.js';

/** How to reach an MCP server: Streamable HTTP, or a child process over stdio. */
export type McpTransportConfig =
  | { kind: 'http'; url: string; headers: Record<string, string> }
  | { kind: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd: string | undefined };

/** One entry of an agent's `mcp` section, as written in the agents file. */
export const mcpServerEntrySchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1 to 64 letters, digits, _ or -'),
    url: z.string().min(1).optional(),
    headers: z.record(z.string(), z.string()).default({}),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().min(1).optional(),
    /** The server's tools the model is offered; `"*"` offers them all. */
    allowTools: z.array(z.string().min(1)).min(1, 'list the tools to offer, or "*" for all'),
    /** Put before each tool name, to keep servers' tools apart. */
    prefix: z.string().regex(/^[A-Za-z0-9_-]{0,32}$/).default(''),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    maxChars: z.number().int().min(50).max(20_000).default(2000),
    allowInternal: z.boolean().default(false),
  })
  .refine((entry) => (entry.url === undefined) !== (entry.command === undefined), {
    message: 'give either url (Streamable HTTP) or command (stdio)',
  });

/** An MCP server entry as written, before its environment references are resolved. */
export type McpServerEntry = z.input<typeof mcpServerEntrySchema>;

/** A validated MCP server of an agent. */
export interface McpServerDecl {
  readonly kind: 'mcp';
  /** Names the server in logs; its address never is. */
  readonly name: string;
  readonly transport: Secret<McpTransportConfig>;
  /** The URL's host and port for the host policy; undefined for stdio. */
  readonly url: Secret<URL> | undefined;
  readonly allowTools: readonly string[];
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly maxChars: number;
  readonly allowInternal: boolean;
  readonly secrets: readonly Secret[];
}

/** Validates an agent's `mcp` section (a list of servers) and resolves its `${env:NAME}` references. */
export function parseMcpServerDeclarations(raw: unknown, env: Env): { servers: McpServerDecl[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const servers: McpServerDecl[] = [];
  forEachNamedEntry(raw, mcpServerEntrySchema, { list: 'MCP servers', item: 'an MCP server' }, problems, (entry, at, clean) => {
    for (const tool of entry.allowTools) {
      if (tool !== '*' && !TOOL_NAME.test(entry.prefix + tool)) problems.push({ path: at('allowTools'), message: `"${tool}" is not a valid tool name` });
    }
    const ctx: TemplateContext = { env, problems, secrets: new Map(), params: undefined };
    const text = (value: string, key: string) => resolved(parseTemplate(value, at(key), ctx));
    const record = (values: Record<string, string>, key: string) =>
      Object.fromEntries(Object.entries(values).map(([name, value]) => [name, text(value, `${key}.${name}`)]));
    let transport: McpTransportConfig;
    let url: URL | undefined;
    if (entry.url !== undefined) {
      const urlProblems = problems.length;
      const href = text(entry.url, 'url');
      try {
        url = new URL(href);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
      } catch {
        if (problems.length === urlProblems) problems.push({ path: at('url'), message: 'expected an http:// or https:// URL' });
      }
      transport = { kind: 'http', url: href, headers: record(entry.headers, 'headers') };
    } else {
      transport = {
        kind: 'stdio',
        command: text(entry.command!, 'command'),
        args: entry.args.map((arg, i) => text(arg, `args[${i}]`)),
        env: record(entry.env, 'env'),
        cwd: entry.cwd === undefined ? undefined : text(entry.cwd, 'cwd'),
      };
    }
    if (!clean()) return;
    servers.push(
      Object.freeze({
        kind: 'mcp',
        name: entry.name,
        transport: new Secret(transport),
        url: url === undefined ? undefined : new Secret(url),
        allowTools: entry.allowTools,
        prefix: entry.prefix,
        timeoutMs: entry.timeoutMs,
        maxChars: entry.maxChars,
        allowInternal: entry.allowInternal,
        secrets: [...ctx.secrets.values()],
      }),
    );
  });
  return { servers, problems };
}

function resolved(template: Template): string {
  return template.map((part) => ('text' in part ? part.text : 'secret' in part ? part.secret.reveal() : '')).join('');
}
