import type { EnvReader } from '../config/env-reader.js';

/** Credentials and transport shared by the Yandex SpeechKit recognizer and synthesizer. */
export interface YandexConfig {
  apiKey: string | undefined;
  iamToken: string | undefined;
  folderId: string | undefined;
  /** TLS on the gRPC channels; false only for local servers. */
  tls: boolean;
}

export function readYandexConfig(env: EnvReader): YandexConfig {
  return {
    apiKey: env.optionalString('YANDEX_API_KEY'),
    iamToken: env.optionalString('YANDEX_IAM_TOKEN'),
    folderId: env.optionalString('YANDEX_FOLDER_ID'),
    tls: env.bool('YANDEX_GRPC_TLS', true),
  };
}
