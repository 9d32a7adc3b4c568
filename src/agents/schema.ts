import { z } from 'zod';
import { BOT_LANGUAGES } from '../llm/config.js';

const required = { error: (issue: { input: unknown }) => (issue.input === undefined ? 'required' : undefined) };
const text = z.string(required).trim().min(1, 'must not be empty');
const int = (min: number, max: number) => z.number().int('must be an integer').min(min).max(max);

function urlWith(protocols: readonly string[]) {
  return z.string().refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
    message: `must be a ${protocols.map((p) => p.slice(0, -1)).join(' or ')} URL`,
  });
}

/** The fixed phrases an agent may override; each defaults to its language's built-in line. */
const phrasesSchema = z.strictObject({
  inactivity: text.optional(),
  goodbye: text.optional(),
  cannotHear: text.optional(),
  transfer: text.optional(),
  /** Said when the model fails before saying anything. */
  fallback: text.optional(),
  /** Said while a tool takes long to answer. */
  filler: text.optional(),
});

const asrSchema = z.strictObject({
  provider: z.enum(['yandex', 'vosk', 'deepgram']).optional(),
  model: text.optional(),
  language: text.optional(),
  /** Vosk or Deepgram server of this agent. */
  url: urlWith(['ws:', 'wss:']).optional(),
});

const ttsSchema = z.strictObject({
  provider: z.enum(['local', 'yandex']).optional(),
  voice: text.optional(),
  /** 1 is normal; for the local voice 1 is 175 words per minute. */
  speed: z.number().min(0.1).max(3).optional(),
  /** Yandex speaking style hint (`neutral`, `good`…). */
  role: text.optional(),
});

const llmSchema = z.strictObject({
  baseUrl: urlWith(['http:', 'https:']).optional(),
  model: text.optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: int(1, 100_000).optional(),
  firstTokenTimeoutMs: int(100, 120_000).optional(),
});

const bargeInSchema = z.strictObject({
  enabled: z.boolean().optional(),
  minSpeechMs: int(0, 10_000).optional(),
  minChars: int(0, 100).optional(),
});

const transferSchema = z.strictObject({
  name: text,
  extension: z.string(required).regex(/^[\w*#+@./:-]+$/u, 'must be an extension: letters, digits and *#+@./:- only'),
});


/** Agent names: what the dialplan puts in VOICEBOT_AGENT. */
export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** One agent as written in the file; every field but `name` is optional. */
export const agentSchema = z.strictObject({
  name: z.string(required).regex(AGENT_NAME, 'must be 1-64 letters, digits, "_", "-" or "." starting with a letter or digit'),
  language: z.enum(BOT_LANGUAGES).optional(),
  /** An extra AudioSocket port whose calls all go to this agent. */
  port: int(1, 65_535).optional(),
  timezone: text.optional(),
  prompt: text.optional(),
  promptFile: text.optional(),
  greeting: text.optional(),
  greetingFile: text.optional(),
  phrases: phrasesSchema.optional(),
  asr: asrSchema.optional(),
  tts: ttsSchema.optional(),
  llm: llmSchema.optional(),
  bargeIn: bargeInSchema.optional(),
  inactivityMs: int(1_000, 3_600_000).optional(),
  transfers: z.array(transferSchema).optional(),
  /** HTTP tools: named here, the rest validated by src/tools/http-declarations.ts. */
  tools: z.array(z.looseObject({ name: text })).optional(),
  /** MCP servers whose allowed tools the agent offers (src/tools/mcp-declarations.ts). */
  mcp: z.array(z.unknown()).optional(),
  /** Hosts the agent's tools may reach. */
  allowHosts: z.array(text).optional(),
  toolRounds: int(1, 10).optional(),
  maxToolCalls: int(1, 200).optional(),
  fillerDelayMs: int(0, 30_000).optional(),
});

/** The file's top level; agents are validated one by one so that each reports its own problems. */
export const fileSchema = z.strictObject({
  timezone: text.optional(),
  default: text.optional(),
  agents: z.array(z.unknown()).min(1, 'must list at least one agent'),
});

/** One agent entry of the agents file, validated. */
export type AgentEntry = z.infer<typeof agentSchema>;

/** The agents file, validated. */
export interface AgentsFile {
  timezone?: string | undefined;
  default?: string | undefined;
  agents: AgentEntry[];
}
