import type { EnvReader } from '../config/env-reader.js';

/** Settings of the conversation: lifecycle timers, barge-in, speculative replies, DTMF. */
export interface ConversationConfig {
  /** `echo` plays the caller back; `conversation` runs ASR → LLM → TTS; `auto` picks by ASR_PROVIDER. */
  pipeline: 'auto' | 'echo' | 'conversation';
  greetingText: string | undefined;
  greetingFile: string | undefined;
  inactivityPromptText: string | undefined;
  goodbyeText: string | undefined;
  cannotHearText: string | undefined;
  transferText: string | undefined;
  /** Caller silence (with the bot idle) before the inactivity prompt; the second time ends the call. */
  inactivityMs: number;
  maxCallMs: number;
  /** A last phrase (goodbye, transfer) plays at most this long before the call is hung up anyway. */
  lastPhraseMaxMs: number;
  bargeIn: boolean;
  /** Caller voice must last this long during bot audio before a barge-in is considered. */
  bargeInMinSpeechMs: number;
  /** …and the recognizer's partial must carry at least this many letters. */
  bargeInMinChars: number;
  /** After a barge-in whose speech turns out empty, the cut reply resumes if within this window. */
  falseAlarmMs: number;
  speculative: boolean;
  /** A partial unchanged for this long is stable enough to start a speculative reply. */
  speculativeStableMs: number;
  dtmfTransferDigit: string | undefined;
  dtmfTransferDestination: string | undefined;
  /** Digits typed within this gap of each other are sent to the model together. */
  dtmfCollectMs: number;
}

export function readConversationConfig(env: EnvReader): ConversationConfig {
  const digit = env.optionalString('DTMF_TRANSFER_DIGIT');
  if (digit !== undefined && !/^[0-9A-D*#]$/.test(digit)) env.problem('DTMF_TRANSFER_DIGIT', `expected one DTMF digit (0-9, A-D, *, #), got "${digit}"`);
  const config: ConversationConfig = {
    pipeline: env.oneOf('PIPELINE', ['auto', 'echo', 'conversation'] as const, 'auto'),
    greetingText: env.optionalString('GREETING_TEXT'),
    greetingFile: env.optionalString('GREETING_FILE'),
    inactivityPromptText: env.optionalString('INACTIVITY_PROMPT_TEXT'),
    goodbyeText: env.optionalString('GOODBYE_TEXT'),
    cannotHearText: env.optionalString('CANNOT_HEAR_TEXT'),
    transferText: env.optionalString('TRANSFER_TEXT'),
    inactivityMs: env.int('INACTIVITY_MS', 10_000, { min: 1000 }),
    maxCallMs: env.int('MAX_CALL_MS', 900_000, { min: 1000 }),
    lastPhraseMaxMs: env.int('LAST_PHRASE_MAX_MS', 10_000, { min: 100 }),
    bargeIn: env.bool('BARGE_IN', true),
    bargeInMinSpeechMs: env.int('BARGE_IN_MIN_SPEECH_MS', 200, { min: 0 }),
    bargeInMinChars: env.int('BARGE_IN_MIN_CHARS', 2, { min: 0 }),
    falseAlarmMs: env.int('BARGE_IN_FALSE_ALARM_MS', 1500, { min: 0 }),
    speculative: env.bool('SPECULATIVE_REPLY', false),
    speculativeStableMs: env.int('SPECULATIVE_STABLE_MS', 150, { min: 0 }),
    dtmfTransferDigit: digit,
    dtmfTransferDestination: env.optionalString('DTMF_TRANSFER_DESTINATION'),
    dtmfCollectMs: env.int('DTMF_COLLECT_MS', 1500, { min: 100 }),
  };
  if (config.dtmfTransferDigit !== undefined && config.dtmfTransferDestination === undefined) {
    env.problem('DTMF_TRANSFER_DESTINATION', 'required when DTMF_TRANSFER_DIGIT is set');
  }
  return config;
}
