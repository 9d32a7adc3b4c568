import { readAgentsConfig, type AgentsConfig } from './agents/config.js';
import { readAriConfig, type AriConfig } from './ari/config.js';
import { readAsrConfig, type AsrConfig } from './asr/config.js';
import { readAudioSocketConfig, type AudioSocketConfig } from './audiosocket/config.js';
import { readCallConfig, type CallConfig } from './call/config.js';
import { readConversationConfig, type ConversationConfig } from './call/conversation-config.js';
import { readEchoGuardConfig, type EchoGuardConfig } from './call/echo-guard-config.js';
import { EnvReader } from './config/env-reader.js';
import { readLlmConfig, type LlmConfig } from './llm/config.js';
import { readOpsConfig, type OpsConfig } from './metrics/config.js';
import { readTtsConfig, type TtsConfig } from './tts/config.js';
import { readYandexConfig, type YandexConfig } from './yandex/config.js';

/** The whole validated configuration; each part goes to the factory that needs it. */
export interface Config {
  logLevel: string;
  audiosocket: AudioSocketConfig;
  yandex: YandexConfig;
  asr: AsrConfig;
  llm: LlmConfig;
  tts: TtsConfig;
  ari: AriConfig;
  call: CallConfig;
  conversation: ConversationConfig;
  echoGuard: EchoGuardConfig;
  ops: OpsConfig;
  agents: AgentsConfig;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The only reader of process.env: parses every setting once, reports all problems together
 * (each naming its variable) and returns a frozen configuration.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const reader = new EnvReader(env);
  const config: Config = {
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    audiosocket: readAudioSocketConfig(reader),
    yandex: readYandexConfig(reader),
    asr: readAsrConfig(reader),
    llm: readLlmConfig(reader),
    tts: readTtsConfig(reader),
    ari: readAriConfig(reader),
    call: readCallConfig(reader),
    conversation: readConversationConfig(reader),
    echoGuard: readEchoGuardConfig(reader),
    ops: readOpsConfig(reader),
    agents: readAgentsConfig(reader, { ...env }),
  };
  // Voices follow the bot's language unless set explicitly.
  if (config.llm.language === 'en') {
    if (!reader.has('LOCAL_TTS_VOICE')) config.tts.local.voice = 'en-us';
    if (!reader.has('YANDEX_TTS_LANG')) config.tts.yandex.lang = 'en-US';
    if (!reader.has('YANDEX_TTS_VOICE')) config.tts.yandex.voice = 'john';
    if (!reader.has('YANDEX_STT_LANGUAGE')) config.asr.yandex.language = 'en-US';
  }
  reader.finish();
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
