import { createChannelControl } from './ari/channel-control.js';
import type { AriClient } from './ari/client.js';
import { connectAri } from './ari/connect.js';
import { createGlobalCleanup } from './ari/global-cleanup.js';
import { createAsr } from './asr/index.js';
import type { Asr } from './asr/asr.js';
import type { AudioSocketCall, CallHandler } from './audiosocket/server.js';
import { createChunker, speakableChunks } from './call/chunker.js';
import { createDialogue } from './call/dialogue.js';
import { createEchoHandler } from './call/echo.js';
import type { CallSummary } from './call/call-summary.js';
import { runConversation, type ConversationDeps } from './call/conversation.js';
import { phrasesFor, replyLines, wholeLines, type Phrases } from './call/phrases.js';
import type { Config } from './config.js';
import type { BotLanguage } from './llm/config.js';
import { createOpenAiLlm } from './llm/openai-llm.js';
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
  /** Finishes what ended calls left behind (Asterisk globals still to delete); the drain's last step. */
  close?(): Promise<void>;
}

/** A recognizer that failed a call for good counts as down for this long, then calls try again. */
const PROVIDER_DOWN_MS = 30_000;

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
  const phrases = phrasesOf(config);
  const ari: AriClient | undefined = await connectAri(config.ari, log.child({ component: 'ari' }));
  const globals = ari && createGlobalCleanup({ ari, delayMs: config.ari.cleanupDelayMs, log: log.child({ component: 'ari' }) });
  const chunkOptions = config.llm.chunker;

  // Exactly the audio that will be played is cached: the call's own phrases whole, as the call
  // plays them, and the reply driver's fallback lines as the chunker cuts them.
  const reply = replyLines(phrases);
  const replyPieces = Object.values(reply).flatMap((text) => cutLikeReplies(text, chunkOptions));
  void cache.warm([...new Set([...wholeLines(phrases), ...replyPieces])], WARM_RATES);

  const cached = new Set(replyPieces);
  const cachedTts: Tts = {
    synthesize: (text, request) => (cached.has(text) ? cache.stream(text, request.sampleRate, request.signal) : tts.synthesize(text, request)),
  };
  const greetingAudio = config.conversation.greetingFile !== undefined ? await loadGreeting(config.conversation.greetingFile) : undefined;

  const deps: ConversationDeps = {
    asr,
    createDialogue: (control, callLog) => createDialogue({ llm, config: config.llm, control, log: callLog, observer, phrases: reply }),
    chunks: (deltas) => speakableChunks(deltas, chunkOptions),
    synthesize: (chunks, sampleRate, signal, callLog) =>
      synthesizeInOrder(chunks, cachedTts, { sampleRate, signal, concurrency: config.tts.concurrency, log: callLog }),
    phrase: (text, sampleRate, signal) => cache.stream(text, sampleRate, signal),
    ...(greetingAudio !== undefined ? { greetingAudio } : {}),
    ...(ari !== undefined ? { channelControl: (callId: string, callLog: Logger) => createChannelControl({ ari, callId, log: callLog, globals }) } : {}),
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
    close: async () => globals?.close(),
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
    log.warn({ err }, 'greeting could not be synthesized ahead');
  });
  return {
    mode: 'echo',
    onCall: async (call) => {
      // Listeners first: audio may arrive in the same TCP chunk as the call id.
      const echoing = echo(call);
      const { sampleRate } = await call.format;
      call.playout.beginStream();
      try {
        for await (const pcm of cache.stream(greeting, sampleRate, call.signal)) call.playout.enqueue(pcm, 'greeting', sampleRate);
      } catch (err) {
        if (!call.signal.aborted) call.log.warn({ err }, 'greeting failed');
      } finally {
        call.playout.endStream();
      }
      await echoing;
    },
    goodbye: async (call) => call.hangUp('server_closed'),
    readiness: () => ({ ready: true, reasons: [] }),
  };
}

/** The call's lines: the language's defaults with the deployment's overrides. */
function phrasesOf(config: Config): Phrases {
  const c = config.conversation;
  return phrasesFor(config.llm.language, {
    ...(c.greetingText !== undefined ? { greeting: c.greetingText } : {}),
    ...(c.inactivityPromptText !== undefined ? { inactivity: c.inactivityPromptText } : {}),
    ...(c.goodbyeText !== undefined ? { goodbye: c.goodbyeText } : {}),
    ...(c.cannotHearText !== undefined ? { cannotHear: c.cannotHearText } : {}),
    ...(c.transferText !== undefined ? { transfer: c.transferText } : {}),
  });
}

/**
 * The greeting file decoded once per rate: both entry forms' rates at start-up, so a bad file
 * stops the start (a VoicebotError `prompt_unreadable`), other rates on first use.
 */
async function loadGreeting(path: string): Promise<(sampleRate: number) => Promise<Buffer>> {
  const byRate = new Map<number, Promise<Buffer>>();
  const load = (sampleRate: number): Promise<Buffer> => {
    let pcm = byRate.get(sampleRate);
    if (pcm === undefined) {
      pcm = loadPromptFile(path, sampleRate);
      byRate.set(sampleRate, pcm);
    }
    return pcm;
  };
  await Promise.all(WARM_RATES.map(load));
  return load;
}

function cutLikeReplies(text: string, options: Config['llm']['chunker']): string[] {
  const chunker = createChunker(options);
  return [...chunker.push(text), ...chunker.end()];
}
