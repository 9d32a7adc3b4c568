import { z } from 'zod';
import { compileArguments } from './arguments.js';
import { forEachNamedEntry, type Problem } from './problems.js';
import type { Secret } from './secret.js';
import {
  literalPrefix,
  parseJsonTemplate,
  parseTemplate,
  templateParams,
  type Env,
  type JsonTemplate,
  type Template,
  type TemplateContext,
} from './template.js';

/** The function names the model accepts. */
export const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** An HTTP method a tool may use. */
export type HttpMethod = (typeof METHODS)[number];

/** One entry of an agent's `tools` section, as written in the agents file. */
export const httpToolEntrySchema = z.strictObject({
  name: z.string().regex(TOOL_NAME, 'expected 1 to 64 letters, digits, _ or -'),
  description: z.string().trim().min(1, 'required: the model chooses tools by their description'),
  parameters: z.record(z.string(), z.unknown()).prefault({ type: 'object', properties: {} }),
  method: z.string().transform((m) => m.toUpperCase()).pipe(z.enum(METHODS)).default('GET'),
  url: z.string().min(1),
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.union([z.literal('arguments'), z.record(z.string(), z.unknown())]).optional(),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  response: z
    .strictObject({
      fields: z.array(z.string().min(1)).min(1).optional(),
      maxChars: z.number().int().min(50).max(20_000).default(2000),
      maxBytes: z.number().int().min(1024).max(10 * 1024 * 1024).default(256 * 1024),
    })
    .prefault({}),
  allowInternal: z.boolean().default(false),
});

/** An HTTP tool entry as written, before its templates and environment references are resolved. */
export type HttpToolEntry = z.input<typeof httpToolEntrySchema>;

/** A validated HTTP tool, templates parsed and environment values resolved. */
export interface HttpToolDecl {
  readonly kind: 'http';
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments: with name and description, all the model is shown. */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly method: HttpMethod;
  readonly url: Template;
  readonly query: readonly (readonly [string, Template])[];
  readonly headers: readonly (readonly [string, Template])[];
  /** `arguments`: the validated arguments as the JSON body. */
  readonly body: 'arguments' | JsonTemplate | undefined;
  readonly timeoutMs: number;
  /** Dotted paths picked from a JSON answer (`items.0.name`); the whole answer when unset. */
  readonly fields: readonly string[] | undefined;
  /** The text given to the model is cut to this many characters. */
  readonly maxChars: number;
  /** An answer body longer than this is not read: the call fails as too large. */
  readonly maxBytes: number;
  /** May reach the server's own endpoints (ARI, the HTTP port). */
  readonly allowInternal: boolean;
  /** Every environment value the tool uses: never logged, scrubbed from what the model reads. */
  readonly secrets: readonly Secret[];
}

/** Options of `parseToolDeclarations`. */
export interface ParseToolOptions {
  /** Names taken by built-in tools (hang_up, transfer). */
  reservedNames?: readonly string[];
}

/**
 * Validates an agent's `tools` section (an array of HTTP tool entries) and resolves its
 * `${env:NAME}` references from `env`. Every problem is reported, each with its path.
 */
export function parseToolDeclarations(
  raw: unknown,
  env: Env,
  options: ParseToolOptions = {},
): { tools: HttpToolDecl[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const tools: HttpToolDecl[] = [];
  const reserved = new Set(options.reservedNames ?? []);
  forEachNamedEntry(raw, httpToolEntrySchema, { list: 'tools', item: 'a tool' }, problems, (entry, at, clean) => {
    if (reserved.has(entry.name)) problems.push({ path: at('name'), message: `"${entry.name}" is a built-in tool` });
    const tool = resolveEntry(entry, env, problems, at);
    if (clean()) tools.push(tool);
  });
  return { tools, problems };
}

function resolveEntry(
  entry: z.output<typeof httpToolEntrySchema>,
  env: Env,
  problems: Problem[],
  at: (key: string) => string,
): HttpToolDecl {
  try {
    compileArguments(entry.parameters);
  } catch (err) {
    problems.push({ path: at('parameters'), message: (err as Error).message });
  }
  const properties = entry.parameters.properties;
  const names = new Set(properties !== null && typeof properties === 'object' ? Object.keys(properties) : []);
  const required = new Set(Array.isArray(entry.parameters.required) ? entry.parameters.required.map(String) : []);
  const ctx: TemplateContext = { env, problems, secrets: new Map(), params: names };

  const urlProblems = problems.length;
  const url = parseTemplate(entry.url, at('url'), ctx);
  if (problems.length === urlProblems && !/^https?:\/\//i.test(literalPrefix(url))) {
    problems.push({ path: at('url'), message: 'expected an http:// or https:// URL' });
  }
  for (const param of templateParams(url)) {
    if (names.has(param) && !required.has(param)) problems.push({ path: at('url'), message: `{${param}} is in the URL, so it must be a required parameter` });
  }

  const query = Object.entries(entry.query).map(([key, value]) => [key, parseTemplate(String(value), at(`query.${key}`), ctx)] as const);
  const headers = Object.entries(entry.headers).map(([key, value]) => {
    const path = at(`headers.${key}`);
    if (!HEADER_NAME.test(key)) problems.push({ path, message: 'not a valid header name' });
    const template = parseTemplate(value, path, { ...ctx, params: undefined });
    if (template.some((part) => /[\r\n\0]/.test('text' in part ? part.text : 'secret' in part ? part.secret.reveal() : ''))) {
      problems.push({ path, message: 'a header value cannot contain line breaks' });
    }
    return [key, template] as const;
  });
  let body: HttpToolDecl['body'];
  if (entry.body !== undefined) {
    if (entry.method === 'GET') problems.push({ path: at('body'), message: 'a GET request has no body' });
    body = entry.body === 'arguments' ? 'arguments' : parseJsonTemplate(entry.body, at('body'), ctx);
  }
  return Object.freeze({
    kind: 'http',
    name: entry.name,
    description: entry.description,
    parameters: entry.parameters,
    method: entry.method,
    url,
    query,
    headers,
    body,
    timeoutMs: entry.timeoutMs,
    fields: entry.response.fields,
    maxChars: entry.response.maxChars,
    maxBytes: entry.response.maxBytes,
    allowInternal: entry.allowInternal,
    secrets: [...ctx.secrets.values()],
  });
}
