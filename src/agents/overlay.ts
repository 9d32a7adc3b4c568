import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { AsrConfig } from '../asr/config.js';
import type { ConversationConfig } from '../call/conversation-config.js';
import { defaultSystemPrompt, type BotLanguage, type LlmConfig } from '../llm/config.js';
import { phrasesFor } from '../call/phrases.js';
import { agentTools } from './agent-tools.js';
import type { TtsConfig } from '../tts/config.js';
import { hasYandexCredentials } from '../yandex/config.js';
import { LANGUAGE_VOICES } from './language-defaults.js';
import { isTimeZone, placeholderVariables, promptProblems } from './placeholders.js';
import type { AgentEntry } from './schema.js';
import type { AgentSettings, EnvConfig } from './settings.js';

/** A problem inside one agent: the field path and why. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** Where relative file paths start and which zone applies when the agent names none. */
export interface OverlayContext {
  baseDir: string;
  timezone: string;
}

/** The eSpeak rate that `speed: 1` means, in words per minute. */
const LOCAL_BASE_RATE = 175;

/**
 * One agent's settings: its fields over the environment's. Language-dependent values it leaves
 * out (prompt, phrases, greeting, voices, recognition language) are inherited only when it
 * speaks BOT_LANGUAGE; otherwise they are the built-in ones of its own language.
 */
export function overlayAgent(entry: AgentEntry, env: EnvConfig, context: OverlayContext): { settings: AgentSettings; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path, message });
  const language = entry.language ?? env.llm.language;
  const sameLanguage = language === env.llm.language;
  const inherit = <T>(value: T): T | undefined => (sameLanguage ? value : undefined);

  const timezone = entry.timezone ?? context.timezone;
  if (entry.timezone !== undefined && !isTimeZone(entry.timezone)) problem('timezone', `"${entry.timezone}" is not an IANA time zone`);

  const transferDestinations = entry.transfers ?? env.llm.transferDestinations;
  const seen = new Set<string>();
  entry.transfers?.forEach((d, i) => {
    if (seen.has(d.name.toLowerCase())) problem(`transfers[${i}].name`, `"${d.name}" is listed twice`);
    seen.add(d.name.toLowerCase());
  });

  if (entry.prompt !== undefined && entry.promptFile !== undefined) problem('promptFile', 'set either prompt or promptFile, not both');
  const envPromptIsBuiltIn = env.llm.systemPrompt === defaultSystemPrompt(env.llm.language, env.llm.transferDestinations);
  const promptFromFile = entry.promptFile === undefined ? undefined : readPrompt(resolvePath(context.baseDir, entry.promptFile), problem);
  const promptTemplate =
    entry.prompt ?? promptFromFile ?? (sameLanguage && !envPromptIsBuiltIn ? env.llm.systemPrompt : defaultSystemPrompt(language, transferDestinations));
  const promptPath = entry.prompt !== undefined ? 'prompt' : entry.promptFile !== undefined ? 'promptFile' : 'prompt (SYSTEM_PROMPT)';
  for (const message of promptProblems(promptTemplate)) problem(promptPath, message);

  const llm: LlmConfig = {
    ...env.llm,
    baseUrl: entry.llm?.baseUrl ?? env.llm.baseUrl,
    model: entry.llm?.model ?? env.llm.model,
    temperature: entry.llm?.temperature ?? env.llm.temperature,
    maxTokens: entry.llm?.maxTokens ?? env.llm.maxTokens,
    firstTokenTimeoutMs: entry.llm?.firstTokenTimeoutMs ?? env.llm.firstTokenTimeoutMs,
    language,
    systemPrompt: promptTemplate,
    transferDestinations,
  };

  const c = env.conversation;
  const greetingFile = entry.greetingFile !== undefined ? resolvePath(context.baseDir, entry.greetingFile) : entry.greeting !== undefined ? undefined : inherit(c.greetingFile);
  const conversation: ConversationConfig = {
    ...c,
    greetingText: entry.greeting ?? (entry.greetingFile !== undefined ? undefined : inherit(c.greetingText)),
    greetingFile,
    inactivityPromptText: entry.phrases?.inactivity ?? inherit(c.inactivityPromptText),
    goodbyeText: entry.phrases?.goodbye ?? inherit(c.goodbyeText),
    cannotHearText: entry.phrases?.cannotHear ?? inherit(c.cannotHearText),
    transferText: entry.phrases?.transfer ?? inherit(c.transferText),
    inactivityMs: entry.inactivityMs ?? c.inactivityMs,
    bargeIn: entry.bargeIn?.enabled ?? c.bargeIn,
    bargeInMinSpeechMs: entry.bargeIn?.minSpeechMs ?? c.bargeInMinSpeechMs,
    bargeInMinChars: entry.bargeIn?.minChars ?? c.bargeInMinChars,
  };

  const tools = agentTools(entry, env.agents.env, problem);

  const settings: AgentSettings = {
    name: entry.name,
    language,
    timezone,
    port: entry.port,
    llm,
    asr: overlayAsr(entry, env, language, problem),
    tts: overlayTts(entry, env, language, problem),
    conversation,
    phrases: phrasesFor(language, {
      ...(conversation.greetingText !== undefined ? { greeting: conversation.greetingText } : {}),
      ...(conversation.inactivityPromptText !== undefined ? { inactivity: conversation.inactivityPromptText } : {}),
      ...(conversation.goodbyeText !== undefined ? { goodbye: conversation.goodbyeText } : {}),
      ...(conversation.cannotHearText !== undefined ? { cannotHear: conversation.cannotHearText } : {}),
      ...(conversation.transferText !== undefined ? { transfer: conversation.transferText } : {}),
      ...(entry.phrases?.fallback !== undefined ? { fallback: entry.phrases.fallback } : {}),
      ...(entry.phrases?.filler !== undefined ? { filler: entry.phrases.filler } : {}),
    }),
    promptTemplate,
    promptVariables: placeholderVariables(promptTemplate),
    greetingAudio: undefined,
    tools,
  };
  return { settings, problems };
}

type Report = (path: string, message: string) => void;

function overlayAsr(entry: AgentEntry, env: EnvConfig, language: BotLanguage, problem: Report): AsrConfig {
  const fields: NonNullable<AgentEntry['asr']> = entry.asr ?? {};
  const provider = fields.provider ?? env.asr.provider;
  const sameLanguage = language === env.llm.language;
  const voices = LANGUAGE_VOICES[language];
  const yandex = { ...env.asr.yandex, ...(sameLanguage ? {} : { language: voices.yandexSttLanguage }) };
  const deepgram = { ...env.asr.deepgram, ...(sameLanguage ? {} : { language: voices.deepgramLanguage }) };
  const vosk = { ...env.asr.vosk };
  if (provider === 'none' && Object.keys(fields).length > 0) problem('asr', 'needs asr.provider (ASR_PROVIDER is none)');
  for (const field of ['model', 'language'] as const) {
    const value = fields[field];
    if (value === undefined) continue;
    if (provider === 'yandex') yandex[field] = value;
    else if (provider === 'deepgram') deepgram[field] = value;
    else if (provider === 'vosk') problem(`asr.${field}`, 'a Vosk server has one model: point asr.url at a server with the right one');
  }
  if (fields.url !== undefined) {
    if (provider === 'vosk') vosk.url = fields.url;
    else if (provider === 'deepgram') deepgram.url = fields.url;
    else if (provider === 'yandex') problem('asr.url', 'the Yandex recognizer is reached at YANDEX_STT_ENDPOINT');
  }
  if (fields.provider === 'yandex' && !hasYandexCredentials(env.yandex)) problem('asr.provider', 'yandex needs YANDEX_API_KEY or YANDEX_IAM_TOKEN in the environment');
  if (fields.provider === 'deepgram' && env.asr.deepgram.apiKey === '') problem('asr.provider', 'deepgram needs DEEPGRAM_API_KEY in the environment');
  return { ...env.asr, provider, yandex, deepgram, vosk };
}

function overlayTts(entry: AgentEntry, env: EnvConfig, language: BotLanguage, problem: Report): TtsConfig {
  const fields: NonNullable<AgentEntry['tts']> = entry.tts ?? {};
  const provider = fields.provider ?? env.tts.provider;
  const sameLanguage = language === env.llm.language;
  const voices = LANGUAGE_VOICES[language];
  const yandex = { ...env.tts.yandex, ...(sameLanguage ? {} : { voice: voices.yandexTtsVoice, lang: voices.yandexTtsLang }) };
  const local = { ...env.tts.local, ...(sameLanguage ? {} : { voice: voices.localTtsVoice }) };
  if (provider === 'yandex') {
    if (fields.voice !== undefined) yandex.voice = fields.voice;
    if (fields.speed !== undefined) yandex.speed = fields.speed;
    if (fields.role !== undefined) yandex.role = fields.role;
  } else {
    if (fields.voice !== undefined) local.voice = fields.voice;
    if (fields.speed !== undefined) local.rate = Math.min(450, Math.max(80, Math.round(LOCAL_BASE_RATE * fields.speed)));
    if (fields.role !== undefined) problem('tts.role', 'a speaking style is a Yandex voice hint; the local voice has none');
  }
  if (fields.provider === 'yandex' && !hasYandexCredentials(env.yandex)) problem('tts.provider', 'yandex needs YANDEX_API_KEY or YANDEX_IAM_TOKEN in the environment');
  return { ...env.tts, provider, yandex, local };
}

function resolvePath(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function readPrompt(path: string, problem: Report): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === '') problem('promptFile', `${path} is empty`);
    return text;
  } catch (err) {
    problem('promptFile', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return undefined;
  }
}
