import { readFileSync } from 'node:fs';
import { DEFAULT_CHUNKER_OPTIONS, type ChunkerOptions } from './chunker.js';
import type { EnvReader } from '../config/env-reader.js';

/** The languages the built-in prompt and fixed phrases are written in. */
export const BOT_LANGUAGES = ['ru', 'en'] as const;
/** One of `BOT_LANGUAGES`. */
export type BotLanguage = (typeof BOT_LANGUAGES)[number];

/** A place the model may transfer the caller to: it sees `name`, the PBX gets `extension`. */
export interface TransferDestination {
  name: string;
  extension: string;
}

/** Settings of the chat model, the conversation history, the reply driver and the chunker. */
export interface LlmConfig {
  baseUrl: string | undefined;
  apiKey: string | undefined;
  /** Sent as the OpenAI-Project header; Yandex takes the folder ID here. */
  project: string | undefined;
  model: string;
  temperature: number | undefined;
  maxTokens: number | undefined;
  language: BotLanguage;
  systemPrompt: string;
  /** Caller turns kept in the history (older whole exchanges are dropped). */
  historyMaxTurns: number;
  /** Characters of history kept, system prompt excluded. */
  historyMaxChars: number;
  /** Budget from the start of a reply to the model's first token, retries included. */
  firstTokenTimeoutMs: number;
  /** Longest silence of the model stream once it has started. */
  idleTimeoutMs: number;
  /** Idle time after which a GET /models keeps the connection open, ms; 0 = no warm-up at all. */
  keepWarmMs: number;
  transferDestinations: TransferDestination[];
  chunker: ChunkerOptions;
}

/** Reads OPENAI_*, LLM_*, BOT_LANGUAGE, SYSTEM_PROMPT(_FILE), TRANSFER_DESTINATIONS and CHUNK_*. */
export function readLlmConfig(env: EnvReader): LlmConfig {
  const language = env.oneOf('BOT_LANGUAGE', BOT_LANGUAGES, 'ru');
  const transferDestinations = readDestinations(env);
  const chunker: ChunkerOptions = {
    firstMinChars: env.int('CHUNK_FIRST_MIN_CHARS', DEFAULT_CHUNKER_OPTIONS.firstMinChars, { min: 1, max: 200 }),
    minChars: env.int('CHUNK_MIN_CHARS', DEFAULT_CHUNKER_OPTIONS.minChars, { min: 1, max: 1000 }),
    clauseChars: env.int('CHUNK_CLAUSE_CHARS', DEFAULT_CHUNKER_OPTIONS.clauseChars, { min: 1, max: 1000 }),
    maxChars: env.int('CHUNK_MAX_CHARS', DEFAULT_CHUNKER_OPTIONS.maxChars, { min: 20, max: 5000 }),
    ambiguousWaitMs: env.int('CHUNK_AMBIGUOUS_WAIT_MS', DEFAULT_CHUNKER_OPTIONS.ambiguousWaitMs, { min: 0, max: 1000 }),
  };
  if (chunker.firstMinChars >= chunker.maxChars) env.problem('CHUNK_FIRST_MIN_CHARS', 'must be below CHUNK_MAX_CHARS');
  return {
    baseUrl: env.url('OPENAI_BASE_URL', undefined, ['http:', 'https:']),
    apiKey: env.optionalString('OPENAI_API_KEY'),
    project: env.optionalString('OPENAI_PROJECT'),
    model: env.string('LLM_MODEL', 'gpt-4o-mini'),
    temperature: env.has('LLM_TEMPERATURE') ? env.number('LLM_TEMPERATURE', 0.3, { min: 0, max: 2 }) : undefined,
    maxTokens: env.has('LLM_MAX_TOKENS') ? env.int('LLM_MAX_TOKENS', 300, { min: 1, max: 100_000 }) : undefined,
    language,
    systemPrompt: readSystemPrompt(env, language, transferDestinations),
    historyMaxTurns: env.int('LLM_HISTORY_MAX_TURNS', 20, { min: 1, max: 1000 }),
    historyMaxChars: env.int('LLM_HISTORY_MAX_CHARS', 12_000, { min: 200, max: 1_000_000 }),
    firstTokenTimeoutMs: env.int('LLM_FIRST_TOKEN_TIMEOUT_MS', 3000, { min: 100, max: 120_000 }),
    idleTimeoutMs: env.int('LLM_IDLE_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
    keepWarmMs: env.int('LLM_KEEP_WARM_MS', 30_000, { min: 0, max: 3_600_000 }),
    transferDestinations,
    chunker,
  };
}

/** `TRANSFER_DESTINATIONS=sales=1001,support=1002` or a plain list of extensions. */
function readDestinations(env: EnvReader): TransferDestination[] {
  const out: TransferDestination[] = [];
  for (const item of env.list('TRANSFER_DESTINATIONS')) {
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).trim();
    const extension = (eq < 0 ? item : item.slice(eq + 1)).trim();
    if (name === '' || extension === '') {
      env.problem('TRANSFER_DESTINATIONS', `"${item}" is not "name=extension" or an extension`);
    } else if (!/^[\w*#+@./:-]+$/u.test(extension)) {
      env.problem('TRANSFER_DESTINATIONS', `extension "${extension}" has characters a dialplan target cannot have`);
    } else if (out.some((d) => d.name.toLowerCase() === name.toLowerCase())) {
      env.problem('TRANSFER_DESTINATIONS', `"${name}" is listed twice`);
    } else {
      out.push({ name, extension });
    }
  }
  return out;
}

function readSystemPrompt(env: EnvReader, language: BotLanguage, destinations: readonly TransferDestination[]): string {
  const inline = env.optionalString('SYSTEM_PROMPT');
  const file = env.optionalString('SYSTEM_PROMPT_FILE');
  if (inline !== undefined && file !== undefined) {
    env.problem('SYSTEM_PROMPT_FILE', 'set either SYSTEM_PROMPT or SYSTEM_PROMPT_FILE, not both');
  }
  if (inline !== undefined) return inline;
  if (file !== undefined) {
    try {
      const text = readFileSync(file, 'utf8').trim();
      if (text === '') env.problem('SYSTEM_PROMPT_FILE', `${file} is empty`);
      return text;
    } catch (err) {
      env.problem('SYSTEM_PROMPT_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return '';
    }
  }
  return defaultSystemPrompt(language, destinations);
}

/** The built-in prompt of a phone agent: short spoken sentences, no markdown, the bot's language. */
export function defaultSystemPrompt(language: BotLanguage, destinations: readonly TransferDestination[] = []): string {
  const names = destinations.map((d) => d.name).join(', ');
  if (language === 'ru') {
    return [
      'Ты — вежливый голосовой ассистент и разговариваешь с человеком по телефону.',
      'Отвечай только по-русски, коротко и по делу: одно–три простых предложения.',
      'Твой ответ озвучит синтезатор речи, поэтому не используй markdown, списки, таблицы, эмодзи, ссылки и специальные символы.',
      'Пиши числа, даты и время так, как их удобно произнести вслух.',
      'Если не расслышал или не понял собеседника, переспроси.',
      'Если собеседник прощается или просит закончить разговор, коротко попрощайся и вызови инструмент hang_up.',
      ...(destinations.length > 0
        ? [`Если собеседник просит соединить его с сотрудником или отделом, скажи, что соединяешь, и вызови инструмент transfer. Доступные направления: ${names}.`]
        : []),
    ].join(' ');
  }
  return [
    'You are a polite voice assistant talking to a person on the phone.',
    'Answer only in English, briefly and to the point: one to three simple sentences.',
    'Your reply is read aloud by a speech synthesizer, so never use markdown, lists, tables, emoji, links or special characters.',
    'Write numbers, dates and times the way they are easy to say aloud.',
    'If you did not hear or understand the caller, ask them to repeat.',
    'If the caller says goodbye or asks to end the call, say a short goodbye and call the hang_up tool.',
    ...(destinations.length > 0
      ? [`If the caller asks to be connected to a person or a department, say you are connecting them and call the transfer tool. Available destinations: ${names}.`]
      : []),
  ].join(' ');
}
