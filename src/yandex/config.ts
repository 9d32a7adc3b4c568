import type { EnvReader } from '../config/env-reader.js';

/** Credentials and transport shared by the Yandex SpeechKit recognizer and synthesizer. */
export interface YandexConfig {
  apiKey: string | undefined;
  iamToken: string | undefined;
  folderId: string | undefined;
  /** TLS on the gRPC channels; false only for local servers. */
  tls: boolean;
}

/** Reads YANDEX_API_KEY / YANDEX_IAM_TOKEN / YANDEX_FOLDER_ID / YANDEX_GRPC_TLS. */
export function readYandexConfig(env: EnvReader): YandexConfig {
  const config: YandexConfig = {
    apiKey: env.optionalString('YANDEX_API_KEY'),
    iamToken: env.optionalString('YANDEX_IAM_TOKEN'),
    folderId: env.optionalString('YANDEX_FOLDER_ID'),
    tls: env.bool('YANDEX_GRPC_TLS', true),
  };
  if (config.apiKey !== undefined && config.iamToken !== undefined) {
    env.problem('YANDEX_IAM_TOKEN', 'set either YANDEX_API_KEY or YANDEX_IAM_TOKEN, not both');
  }
  for (const [name, value] of [['YANDEX_API_KEY', config.apiKey], ['YANDEX_IAM_TOKEN', config.iamToken], ['YANDEX_FOLDER_ID', config.folderId]] as const) {
    // A header value cannot hold control characters or spaces; a pasted newline would fail every call.
    if (value !== undefined && /[\s\x00-\x1f\x7f]/.test(value)) env.problem(name, 'contains whitespace or control characters');
  }
  return config;
}

/** True when a key or token is configured (a Yandex provider needs one). */
export function hasYandexCredentials(config: YandexConfig): boolean {
  return config.apiKey !== undefined || config.iamToken !== undefined;
}
