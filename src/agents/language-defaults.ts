import type { BotLanguage } from '../llm/config.js';

/** The fixed phrases of a call, in the agent's language (the greeting included). */
export interface CallPhrases {
  greeting: string;
  inactivity: string;
  goodbye: string;
  cannotHear: string;
  transfer: string;
}

/** The built-in call phrases of each language. */
export const CALL_PHRASES: Readonly<Record<BotLanguage, CallPhrases>> = {
  ru: {
    greeting: 'Здравствуйте! Я голосовой помощник. Чем могу помочь?',
    inactivity: 'Вы меня слышите?',
    goodbye: 'Всего доброго, до свидания!',
    cannotHear: 'Извините, я вас не слышу. Перезвоните, пожалуйста, позже.',
    transfer: 'Соединяю, подождите, пожалуйста.',
  },
  en: {
    greeting: 'Hello! I am a voice assistant. How can I help you?',
    inactivity: 'Are you still there?',
    goodbye: 'Thank you for calling. Goodbye!',
    cannotHear: "Sorry, I can't hear you. Please call again later.",
    transfer: 'Connecting you now, please hold.',
  },
};

/** Language-dependent provider settings, as the environment defaults them for each language. */
export interface LanguageVoices {
  yandexTtsVoice: string;
  yandexTtsLang: string;
  localTtsVoice: string;
  yandexSttLanguage: string;
  deepgramLanguage: string;
}

/** What an agent whose language differs from BOT_LANGUAGE gets where it names no voice or language. */
export const LANGUAGE_VOICES: Readonly<Record<BotLanguage, LanguageVoices>> = {
  ru: { yandexTtsVoice: 'alena', yandexTtsLang: 'ru-RU', localTtsVoice: 'ru', yandexSttLanguage: 'ru-RU', deepgramLanguage: 'ru' },
  en: { yandexTtsVoice: 'john', yandexTtsLang: 'en-US', localTtsVoice: 'en-us', yandexSttLanguage: 'en-US', deepgramLanguage: 'en' },
};
