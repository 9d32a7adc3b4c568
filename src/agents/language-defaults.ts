import type { BotLanguage } from '../llm/config.js';

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
