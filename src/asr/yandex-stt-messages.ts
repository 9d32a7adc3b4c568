/** The parts of the SpeechKit STT v3 messages we use, as @grpc/proto-loader presents them. */

/** Where the recognizer proto lives under proto/ and the service it defines. */
export const STT_PROTO = 'yandex/cloud/ai/stt/v3/stt_service.proto';
export const STT_SERVICE = 'speechkit.stt.v3.Recognizer';

export interface StreamingOptions {
  recognition_model: {
    model: string;
    audio_format: { raw_audio: { audio_encoding: 'LINEAR16_PCM'; sample_rate_hertz: number; audio_channel_count: number } };
    text_normalization: {
      text_normalization: 'TEXT_NORMALIZATION_ENABLED' | 'TEXT_NORMALIZATION_DISABLED';
      profanity_filter: boolean;
      literature_text: boolean;
    };
    language_restriction: { restriction_type: 'WHITELIST'; language_code: string[] };
    audio_processing_type: 'REAL_TIME';
  };
  eou_classifier: {
    default_classifier: { type: 'DEFAULT' | 'HIGH'; max_pause_between_words_hint_ms?: number };
  };
}

export type StreamingRequest =
  | { session_options: StreamingOptions }
  | { chunk: { data: Buffer } }
  | { silence_chunk: { duration_ms: number } }
  | { eou: Record<string, never> };

export interface AlternativeUpdate {
  alternatives: Array<{ text: string }>;
}

export interface AudioCursors {
  received_data_ms: number;
  partial_time_ms: number;
  final_time_ms: number;
  final_index: number;
  eou_time_ms: number;
}

export interface StreamingResponse {
  audio_cursors: AudioCursors | null;
  Event?: 'partial' | 'final' | 'eou_update' | 'final_refinement' | 'status_code';
  partial?: AlternativeUpdate | null;
  final?: AlternativeUpdate | null;
  eou_update?: { time_ms: number } | null;
  final_refinement?: { final_index: number; normalized_text?: AlternativeUpdate | null } | null;
  status_code?: { code_type: 'CODE_TYPE_UNSPECIFIED' | 'WORKING' | 'WARNING' | 'CLOSED'; message: string } | null;
}
