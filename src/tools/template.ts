import type { Problem } from './problems.js';
import { Secret } from './secret.js';

/** The environment `${env:NAME}` references are resolved from. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Literal text, an argument placeholder `{name}`, or a value from the environment. */
export type TemplatePart = { text: string } | { param: string } | { secret: Secret };
/** A string template, parsed once at load. */
export type Template = readonly TemplatePart[];

/** A JSON body template: a string that is exactly `"{name}"` becomes the argument's own JSON value. */
export type JsonTemplate =
  | { kind: 'literal'; value: unknown }
  | { kind: 'param'; name: string }
  | { kind: 'string'; parts: Template }
  | { kind: 'array'; items: JsonTemplate[] }
  | { kind: 'object'; entries: [string, JsonTemplate][] };

/** Where parsing reports: problems, the secrets resolved so far, and the parameters placeholders may name. */
export interface TemplateContext {
  env: Env;
  problems: Problem[];
  secrets: Map<string, Secret>;
  /** Parameter names a placeholder may use; undefined where braces are plain text (headers). */
  params: ReadonlySet<string> | undefined;
}

const TOKEN = /\$\{([^}]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const ENV_REF = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;

/** Parses `source`, resolving `${env:NAME}` now; an unset variable or unknown placeholder is a problem. */
export function parseTemplate(source: string, path: string, ctx: TemplateContext): Template {
  const parts: TemplatePart[] = [];
  let text = '';
  let last = 0;
  const flush = () => {
    if (text !== '') parts.push({ text });
    text = '';
  };
  for (const m of source.matchAll(TOKEN)) {
    text += source.slice(last, m.index);
    last = m.index + m[0].length;
    const [token, ref, param] = m;
    if (ref !== undefined) {
      const name = ENV_REF.exec(ref)?.[1];
      if (name === undefined) {
        ctx.problems.push({ path, message: `"${token}" is not an environment reference; write \${env:NAME}` });
        continue;
      }
      const secret = resolveEnv(name, path, ctx);
      if (secret === undefined) continue;
      flush();
      parts.push({ secret });
    } else if (param !== undefined && ctx.params !== undefined) {
      if (!ctx.params.has(param)) ctx.problems.push({ path, message: `placeholder {${param}} names no declared parameter` });
      flush();
      parts.push({ param });
    } else {
      text += token;
    }
  }
  text += source.slice(last);
  flush();
  return parts;
}

function resolveEnv(name: string, path: string, ctx: TemplateContext): Secret | undefined {
  const known = ctx.secrets.get(name);
  if (known !== undefined) return known;
  const value = ctx.env[name];
  if (value === undefined || value === '') {
    ctx.problems.push({ path, message: `environment variable ${name} is not set` });
    return undefined;
  }
  const secret = new Secret(value);
  ctx.secrets.set(name, secret);
  return secret;
}

/** The parameters a template uses, in order. */
export function templateParams(template: Template): string[] {
  return template.flatMap((part) => ('param' in part ? [part.param] : []));
}

/** The text before the first placeholder, with environment values in. */
export function literalPrefix(template: Template): string {
  let out = '';
  for (const part of template) {
    if ('param' in part) break;
    out += 'text' in part ? part.text : part.secret.reveal();
  }
  return out;
}

/** The template filled from the arguments; `missing` names the first absent argument. */
export function expandTemplate(
  template: Template,
  args: Readonly<Record<string, unknown>>,
  encode: (value: string) => string = (value) => value,
): { value: string } | { missing: string } {
  let out = '';
  for (const part of template) {
    if ('text' in part) out += part.text;
    else if ('secret' in part) out += part.secret.reveal();
    else {
      const value = args[part.param];
      if (value === undefined || value === null) return { missing: part.param };
      out += encode(typeof value === 'string' ? value : JSON.stringify(value));
    }
  }
  return { value: out };
}

/** Parses a JSON body template; strings in it are templates. */
export function parseJsonTemplate(value: unknown, path: string, ctx: TemplateContext): JsonTemplate {
  if (typeof value === 'string') {
    const parts = parseTemplate(value, path, ctx);
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only !== undefined && 'param' in only) return { kind: 'param', name: only.param };
    if (parts.every((part) => 'text' in part)) return { kind: 'literal', value: parts.map((p) => ('text' in p ? p.text : '')).join('') };
    return { kind: 'string', parts };
  }
  if (Array.isArray(value)) return { kind: 'array', items: value.map((item, i) => parseJsonTemplate(item, `${path}[${i}]`, ctx)) };
  if (value !== null && typeof value === 'object') {
    return {
      kind: 'object',
      entries: Object.entries(value).map(([key, item]) => [key, parseJsonTemplate(item, `${path}.${key}`, ctx)]),
    };
  }
  return { kind: 'literal', value };
}

/** The JSON value of a body template; an absent argument drops its key (null inside an array). */
export function expandJsonTemplate(template: JsonTemplate, args: Readonly<Record<string, unknown>>): unknown {
  switch (template.kind) {
    case 'literal':
      return template.value;
    case 'param':
      return args[template.name];
    case 'string': {
      const filled = expandTemplate(template.parts, args);
      return 'value' in filled ? filled.value : undefined;
    }
    case 'array':
      return template.items.map((item) => expandJsonTemplate(item, args) ?? null);
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, item] of template.entries) {
        const value = expandJsonTemplate(item, args);
        if (value !== undefined) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  }
}
