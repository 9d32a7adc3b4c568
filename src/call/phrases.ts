/** Every fixed line the bot says, in its language, with the deployment's overrides applied. */
import type { BotLanguage } from '../llm/config.js';
import type { ReplyPhrases } from '../llm/reply.js';

/** The fixed lines of one bot. */
export interface Phrases {
  greeting: string;
  /** Asked once when the caller has been silent for INACTIVITY_MS. */
  inactivity: string;
  goodbye: string;
  /** Said before hanging up when speech recognition fails for good. */
  cannotHear: string;
  /** Said before handing the call to the dialplan for a transfer. */
  transfer: string;
  /** Said when the model fails before saying (almost) anything. */
  fallback: string;
  /** Said while a tool takes long to answer. */
  filler: string;
}

const DEFAULTS: Record<BotLanguage, Phrases> = {
  ru: {
    greeting: 'Здравствуйте! Я голосовой помощник. Чем могу помочь?',
    inactivity: 'Вы меня слышите?',
    goodbye: 'Всего доброго, до свидания!',
    cannotHear: 'Извините, я вас не слышу. Перезвоните, пожалуйста, позже.',
    transfer: 'Соединяю, подождите, пожалуйста.',
    fallback: 'Извините, у меня сейчас не получается ответить. Повторите, пожалуйста, ещё раз.',
    filler: 'Секунду, проверяю.',
  },
  en: {
    greeting: 'Hello! I am a voice assistant. How can I help you?',
    inactivity: 'Are you still there?',
    goodbye: 'Thank you for calling. Goodbye!',
    cannotHear: "Sorry, I can't hear you. Please call again later.",
    transfer: 'Connecting you now, please hold.',
    fallback: "Sorry, I'm having trouble answering right now. Could you please say that again?",
    filler: 'One moment, let me check.',
  },
};

/** The bot's lines in `language`, each replaced where `overrides` gives it. */
export function phrasesFor(language: BotLanguage, overrides: Partial<Phrases> = {}): Phrases {
  const phrases = { ...DEFAULTS[language] };
  for (const key of Object.keys(phrases) as (keyof Phrases)[]) {
    const text = overrides[key];
    if (text !== undefined && text.trim() !== '') phrases[key] = text;
  }
  return phrases;
}

/** The lines the reply driver may speak instead of the model: the same texts the call uses. */
export function replyLines(phrases: Phrases): ReplyPhrases {
  return { fallback: phrases.fallback, goodbye: phrases.goodbye, transferring: phrases.transfer, filler: phrases.filler };
}

/** The lines played whole as a phrase of their own (not through the chunker). */
export function wholeLines(phrases: Phrases): string[] {
  return [phrases.greeting, phrases.inactivity, phrases.goodbye, phrases.cannotHear, phrases.transfer];
}
