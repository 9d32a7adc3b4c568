import type { AsrConfig } from '../asr/config.js';
import type { ConversationConfig } from '../call/conversation-config.js';
import type { BotLanguage, LlmConfig } from '../llm/config.js';
import type { TtsConfig } from '../tts/config.js';
import type { YandexConfig } from '../yandex/config.js';
import type { Phrases } from '../call/phrases.js';
import type { AgentToolSettings } from './agent-tools.js';

/** The parts of the environment-derived `Config` that agents start from (a `Config` is one). */
export interface EnvConfig {
  llm: LlmConfig;
  asr: AsrConfig;
  tts: TtsConfig;
  conversation: ConversationConfig;
  yandex: YandexConfig;
  audiosocket: { port: number };
  ops: { httpPort: number };
  /** The environment as read at start, for the `${env:NAME}` secrets of tools. */
  agents: { env: Readonly<Record<string, string | undefined>> };
}

/** Everything one call of an agent is run with: the env slices with the agent's fields laid over them. */
export interface AgentSettings {
  name: string;
  language: BotLanguage;
  /** IANA zone of the `{{date}}` and `{{time}}` placeholders. */
  timezone: string;
  /** The extra AudioSocket port whose calls all go to this agent, if any. */
  port: number | undefined;
  /** `systemPrompt` holds the template: render it per call (see `promptForCall`). */
  llm: LlmConfig;
  asr: AsrConfig;
  tts: TtsConfig;
  /** Greeting and phrase texts here are the overrides only; `phrases` holds what is spoken. */
  conversation: ConversationConfig;
  phrases: Phrases;
  promptTemplate: string;
  /** VOICEBOT_* channel variables the prompt uses. */
  promptVariables: readonly string[];
  /** The greeting file decoded at 8000 and 16000 Hz (filled by `loadAgents`). */
  greetingAudio: ReadonlyMap<number, Buffer> | undefined;
  tools: AgentToolSettings;
}

/** Every agent of a deployment, validated and complete. */
export interface ResolvedAgents {
  /** By name, as written. */
  agents: ReadonlyMap<string, AgentSettings>;
  /** Name of the agent a call gets when the dialplan names none or an unknown one. */
  defaultAgent: string;
  /** Union of the VOICEBOT_* variables all prompts use: what to read through ARI per call. */
  variables: readonly string[];
  /** Extra AudioSocket ports and the agent each one serves. */
  ports: ReadonlyMap<number, string>;
  /** The file they came from; undefined for the environment's single agent. */
  source: string | undefined;
}

/** The time zone of the process (TZ), used where the file sets none. */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Freezes settings in depth; buffers and maps stay as they are (a Buffer cannot be frozen). */
export function freezeSettings<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value) || value instanceof Map) return value;
  Object.freeze(value);
  for (const inner of Object.values(value)) freezeSettings(inner);
  return value;
}
