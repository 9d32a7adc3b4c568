import type { BotLanguage } from '../llm/config.js';

/**
 * System prompt placeholders: `{{name}}` or `{{name|fallback}}`, spaces allowed inside the braces.
 * `caller.number`, `caller.name`, `dialed`, `agent`, `date`, `time`, `timezone`, and
 * `var.VOICEBOT_X` for a channel variable the dialplan set. An unset value renders as its
 * fallback, or as nothing.
 */
export const PLACEHOLDERS = ['caller.number', 'caller.name', 'dialed', 'agent', 'date', 'time', 'timezone'] as const;

/** What a prompt is rendered with, for one call. */
export interface PromptContext {
  agent: string;
  language: BotLanguage;
  /** IANA zone of `date` and `time`. */
  timezone: string;
  /** The moment `date` and `time` show; now when absent. */
  now?: Date;
  callerNumber?: string | undefined;
  callerName?: string | undefined;
  dialed?: string | undefined;
  /** VOICEBOT_* channel variables by name; only set ones. */
  variables?: Readonly<Record<string, string>>;
}

/** Only plain dialplan variables with this prefix may be read: a function name would run the function. */
export const VARIABLE_NAME = /^VOICEBOT_[A-Z0-9_]{1,64}$/;

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
/** Caller ID and extensions are set by whoever calls: one line, short. */
const FIELD_MAX_CHARS = 80;
const VARIABLE_MAX_CHARS = 2_000;

type Key = { kind: 'field'; name: (typeof PLACEHOLDERS)[number] } | { kind: 'var'; name: string };

function parseKey(raw: string): Key | string {
  const name = raw.trim();
  if ((PLACEHOLDERS as readonly string[]).includes(name)) return { kind: 'field', name: name as (typeof PLACEHOLDERS)[number] };
  if (name.startsWith('var.')) {
    const variable = name.slice(4);
    return VARIABLE_NAME.test(variable) ? { kind: 'var', name: variable } : `{{${name}}}: only VOICEBOT_* channel variables (upper case, digits, "_") can be used`;
  }
  return `unknown placeholder {{${name}}}; known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}, {{var.VOICEBOT_…}}`;
}

function split(inner: string): { key: string; fallback: string | undefined } {
  const bar = inner.indexOf('|');
  return bar < 0 ? { key: inner, fallback: undefined } : { key: inner.slice(0, bar), fallback: inner.slice(bar + 1).trim() };
}

/** What is wrong with a template's placeholders: unknown names, bad variable names, unmatched braces. */
export function promptProblems(template: string): string[] {
  const problems: string[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const key = parseKey(split(match[1] ?? '').key);
    if (typeof key === 'string') problems.push(key);
  }
  if (template.replace(PLACEHOLDER, '').includes('{{')) problems.push('"{{" without a matching "}}"');
  return [...new Set(problems)];
}

/** The VOICEBOT_* channel variables a template uses, each once, in order of appearance. */
export function placeholderVariables(template: string): string[] {
  const names = new Set<string>();
  for (const match of template.matchAll(PLACEHOLDER)) {
    const key = parseKey(split(match[1] ?? '').key);
    if (typeof key !== 'string' && key.kind === 'var') names.add(key.name);
  }
  return [...names];
}

/** The prompt for one call; a template that fails `promptProblems` is a programming error here. */
export function renderPrompt(template: string, context: PromptContext): string {
  const now = context.now ?? new Date();
  return template.replace(PLACEHOLDER, (_whole, inner: string) => {
    const { key: raw, fallback } = split(inner);
    const key = parseKey(raw);
    if (typeof key === 'string') throw new Error(key);
    const value = key.kind === 'var' ? variableValue(context.variables?.[key.name]) : fieldValue(key.name, context, now);
    return value === undefined || value === '' ? (fallback ?? '') : value;
  });
}

function fieldValue(name: (typeof PLACEHOLDERS)[number], context: PromptContext, now: Date): string | undefined {
  switch (name) {
    case 'caller.number':
      return oneLine(context.callerNumber);
    case 'caller.name':
      return oneLine(context.callerName);
    case 'dialed':
      return oneLine(context.dialed);
    case 'agent':
      return context.agent;
    case 'timezone':
      return context.timezone;
    case 'date':
      return new Intl.DateTimeFormat(locale(context.language), {
        timeZone: context.timezone, weekday: 'long', year: 'numeric', month: 'long', day: 'numeric',
      }).format(now);
    case 'time':
      return new Intl.DateTimeFormat(locale(context.language), {
        timeZone: context.timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
      }).format(now);
  }
}

function locale(language: BotLanguage): string {
  return language === 'ru' ? 'ru-RU' : 'en-US';
}

function oneLine(value: string | undefined): string | undefined {
  return value?.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, FIELD_MAX_CHARS);
}

function variableValue(value: string | undefined): string | undefined {
  return value?.replace(/[\x00-\x08\x0b-\x1f\x7f]+/g, ' ').trim().slice(0, VARIABLE_MAX_CHARS);
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
