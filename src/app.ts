import { createChannelControl } from './ari/channel-control.js';
import type { AriClient } from './ari/client.js';
import { connectAri } from './ari/connect.js';
import { createAsr } from './asr/index.js';
import type { Asr } from './asr/asr.js';
import type { AudioSocketCall, CallHandler } from './audiosocket/server.js';
import { createChunker, speakableChunks } from './call/chunker.js';
import { createDialogue } from './call/dialogue.js';
import { createEchoHandler } from './call/echo.js';
import { runConversation, type CallSummary, type ConversationDeps, type Phrases } from './call/session.js';
import type { Config } from './config.js';
import type { BotLanguage } from './llm/config.js';
import { createOpenAiLlm } from './llm/openai-llm.js';
import { fixedPhrases } from './llm/reply.js';
import type { Logger } from './logger.js';
import { noopObserver, type Observer } from './metrics/observer.js';
import { createTts } from './tts/index.js';
import { synthesizeInOrder } from './tts/in-order.js';
import { createPhraseCache, type PhraseCache } from './tts/phrase-cache.js';
import { loadPromptFile } from './tts/prompt-file.js';
import type { Tts } from './tts/tts.js';

/** What the AudioSocket server runs for each call, and how to end calls politely. */
export interface App {
  readonly mode: 'echo' | 'conversation';
  onCall: CallHandler;
  /** Ends one call with a short goodbye (drain). */
  goodbye(call: AudioSocketCall): Promise<void>;
  /** Not ready while a required provider is known to be down. */
  readiness(): { ready: boolean; reasons: string[] };
}

/** A recognizer that failed a call for good counts as down for this long, then calls try again. */
const PROVIDER_DOWN_MS = 30_000;

const PHRASES: Record<BotLanguage, Phrases> = {
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

/** Fixed phrases are synthesized for these rates at start-up: the two AudioSocket entry forms. */
const WARM_RATES = [8000, 16000];

/** Builds the per-call pipeline from the configuration: the conversation, or the echo. */
export async function createApp(
  config: Config,
  log: Logger,
  options: { observer?: Observer; onCallEnd?: (summary: CallSummary) => void } = {},
): Promise<App> {
  const observer = options.observer ?? noopObserver;
  const asr: Asr | undefined = createAsr(config.asr, config.yandex, log.child({ component: 'asr' }), observer);
  const mode = config.conversation.pipeline === 'auto' ? (asr ? 'conversation' : 'echo') : config.conversation.pipeline;
  const tts: Tts = createTts(config.tts, config.yandex, log.child({ component: 'tts' }), observer);
  const cache = createPhraseCache(tts, { log: log.child({ component: 'phrases' }) });
  if (mode === 'echo' || asr === undefined) {
    if (mode === 'conversation') log.warn('PIPELINE=conversation needs ASR_PROVIDER; answering with the echo');
    else log.info('no speech recognizer configured (ASR_PROVIDER); answering with the echo');
    return echoApp(config, cache, log);
  }

  const llm = createOpenAiLlm(config.llm, log.child({ component: 'llm' }), observer);
  for (const provider of [asr, tts, llm]) provider.keepWarm?.();
  const phrases = phrasesFor(config);
  const ari: AriClient | undefined = await connectAri(config.ari, log.child({ component: 'ari' }));
  const chunkOptions = config.llm.chunker;

  // Fixed phrases are cached as the chunker would cut them, so a fallback reply hits the cache.
  const cachedTexts = [...Object.values(phrases), ...fixedPhrases(config.llm)].flatMap((text) => cutLikeReplies(text, chunkOptions));
  void cache.warm(cachedTexts, WARM_RATES).catch((err: unknown) => {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'fixed phrases could not be synthesized ahead');
  });

  const cached = new Set(cachedTexts);
  const cachedTts: Tts = {
    async *synthesize(text, request) {
      if (cached.has(text)) yield await cache.get(text, request.sampleRate, request.signal);
      else yield* tts.synthesize(text, request);
    },
  };
  const greetingFile = config.conversation.greetingFile;

  const deps: ConversationDeps = {
    asr,
    createDialogue: (control, callLog) => createDialogue({ llm, config: config.llm, control, log: callLog, observer }),
    chunks: (deltas) => speakableChunks(deltas, chunkOptions),
    synthesize: (chunks, sampleRate, signal, callLog) =>
      synthesizeInOrder(chunks, cachedTts, { sampleRate, signal, concurrency: config.tts.concurrency, log: callLog }),
    phrase: (text, sampleRate, signal) => cache.get(text, sampleRate, signal),
    ...(greetingFile !== undefined ? { greetingAudio: (sampleRate: number) => loadPromptFile(greetingFile, sampleRate) } : {}),
    ...(ari !== undefined ? { channelControl: (callId: string, callLog: Logger) => createChannelControl({ ari, callId, log: callLog }) } : {}),
    phrases,
    config: config.conversation,
    vadThreshold: config.call.vadThreshold,
    observer,
    ...(options.onCallEnd ? { onCallEnd: options.onCallEnd } : {}),
  };

  let asrDown: { code: string; at: number } | undefined;
  deps.recognizerHealth = {
    ok: () => (asrDown = undefined),
    failed: (code) => (asrDown = { code, at: Date.now() }),
  };

  const sessions = new Map<string, { goodbye(): Promise<void> }>();
  return {
    mode: 'conversation',
    onCall: async (call) => {
      await runConversation(call, deps, (session) => sessions.set(call.id, session));
      sessions.delete(call.id);
    },
    goodbye: async (call) => {
      const session = sessions.get(call.id);
      if (session) await session.goodbye();
      else call.hangUp('server_closed');
    },
    readiness: () => {
      if (asrDown !== undefined && Date.now() - asrDown.at > PROVIDER_DOWN_MS) asrDown = undefined;
      return asrDown ? { ready: false, reasons: [`speech recognition down (${asrDown.code})`] } : { ready: true, reasons: [] };
    },
  };
}

const ECHO_GREETING: Record<BotLanguage, string> = {
  ru: 'Здравствуйте! Это эхо-тест: скажите что-нибудь, и я повторю.',
  en: 'Hello! This is an echo test: say something and I will repeat it.',
};

/** The echo pipeline, greeted by the configured voice so a fresh install speaks at once. */
function echoApp(config: Config, cache: PhraseCache, log: Logger): App {
  const echo = createEchoHandler(config.call);
  const greeting = config.conversation.greetingText ?? ECHO_GREETING[config.llm.language];
  void cache.warm([greeting], WARM_RATES).catch((err: unknown) => {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'greeting could not be synthesized ahead');
  });
  return {
    mode: 'echo',
    onCall: async (call) => {
      // Listeners first: audio may arrive in the same TCP chunk as the call id.
      const echoing = echo(call);
      const { sampleRate } = await call.format;
      try {
        const pcm = await cache.get(greeting, sampleRate, call.signal);
        if (!call.signal.aborted) call.playout.enqueue(pcm, 'greeting');
      } catch (err) {
        if (!call.signal.aborted) call.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'greeting failed');
      }
      await echoing;
    },
    goodbye: async (call) => call.hangUp('server_closed'),
    readiness: () => ({ ready: true, reasons: [] }),
  };
}

function phrasesFor(config: Config): Phrases {
  const base = PHRASES[config.llm.language];
  const c = config.conversation;
  return {
    greeting: c.greetingText ?? base.greeting,
    inactivity: c.inactivityPromptText ?? base.inactivity,
    goodbye: c.goodbyeText ?? base.goodbye,
    cannotHear: c.cannotHearText ?? base.cannotHear,
    transfer: c.transferText ?? base.transfer,
  };
}

function cutLikeReplies(text: string, options: Config['llm']['chunker']): string[] {
  const chunker = createChunker(options);
  return [...chunker.push(text), ...chunker.end()];
}
