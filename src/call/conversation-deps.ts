/** What a conversation is given: the providers composed into stages, the channel, its settings. */
import type { ChannelControl } from '../ari/channel-control.js';
import type { Asr } from '../asr/asr.js';
import type { CallControl } from '../llm/llm.js';
import type { Logger } from '../logger.js';
import type { Observer } from '../metrics/observer.js';
import type { CallSummary } from './call-summary.js';
import type { Clock } from './clock.js';
import type { ConversationConfig } from './conversation-config.js';
import type { Dialogue } from './dialogue.js';
import type { EchoGuardConfig } from './echo-guard-config.js';
import type { Phrases } from './phrases.js';
import type { ReplyAudio } from './turn.js';

/** The channel operations a conversation uses; absent when ARI is not configured. */
export type CallChannel = Pick<ChannelControl, 'resolveChannel' | 'hangup' | 'requestTransfer' | 'detach'>;

/** What a conversation needs: providers composed into stages, and its settings. */
export interface ConversationDeps {
  asr: Asr;
  createDialogue(control: CallControl, log: Logger): Dialogue;
  /** Speakable chunks from text deltas. */
  chunks(deltas: AsyncIterable<string>): AsyncIterable<string>;
  /** Audio for chunks, strictly in order; `sampleRate` is read as each chunk's synthesis starts. */
  synthesize(chunks: AsyncIterable<string>, sampleRate: () => number, signal: AbortSignal, log: Logger): AsyncIterable<ReplyAudio>;
  /** A fixed phrase's audio (cached), streamed as it is synthesized on a cache miss. */
  phrase(text: string, sampleRate: number, signal: AbortSignal): AsyncIterable<Buffer>;
  /** The greeting from an audio file, when one is configured. */
  greetingAudio?(sampleRate: number): Promise<Buffer>;
  channelControl?(callId: string, log: Logger): CallChannel;
  phrases: Phrases;
  config: ConversationConfig;
  vadThreshold: number;
  /** Barge-in ignores the bot's own voice coming back on the line. */
  echoGuard?: EchoGuardConfig;
  observer: Observer;
  /** The call's logger with whatever the app binds (the agent); the call's own by default. */
  log?: Logger;
  /** Time and timers; the process clock by default. */
  clock?: Clock;
  /** Called once per call with its summary. */
  onCallEnd?(summary: CallSummary): void;
  /** Told when the recognizer works for a call, or fails it for good. */
  recognizerHealth?: { ok(): void; failed(code: string): void };
}
