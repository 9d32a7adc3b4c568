/** One agent ready to take calls: its recognizer, model, voice and cached phrases, built once. */
import type { Asr } from '../asr/asr.js';
import { createAsr } from '../asr/index.js';
import { createChunker, speakableChunks, type ChunkerOptions } from '../llm/chunker.js';
import type { ConversationDeps } from '../call/conversation-deps.js';
import { createDialogue } from '../call/dialogue.js';
import { replyLines, wholeLines } from '../call/phrases.js';
import type { CallConfig } from '../call/config.js';
import type { EchoGuardConfig } from '../call/echo-guard-config.js';
import type { Llm } from '../llm/llm.js';
import { createOpenAiLlm } from '../llm/openai-llm.js';
import { HANG_UP, TRANSFER } from '../llm/tools.js';
import { createToolbox, type McpPool, type Toolbox } from '../tools/index.js';
import type { Logger } from '../logger.js';
import type { Observer } from '../metrics/observer.js';
import { synthesizeInOrder } from '../tts/in-order.js';
import { createTts } from '../tts/index.js';
import { createPhraseCache, type PhraseCache } from '../tts/phrase-cache.js';
import type { Tts } from '../tts/tts.js';
import type { YandexConfig } from '../yandex/config.js';
import { greetingAudioFor } from './select.js';
import type { AgentSettings } from './settings.js';

/** Fixed phrases are synthesized for these rates ahead of calls: the two AudioSocket entry forms. */
export const WARM_RATES = [8000, 16000];

/** What every agent shares: one provider client per distinct provider setting. */
export interface AgentShared {
  yandex: YandexConfig;
  call: CallConfig;
  echoGuard: EchoGuardConfig;
  observer: Observer;
  log: Logger;
  /** Memoized factories, so agents with the same voice share one synthesizer and its cache. */
  providers: ProviderPool;
  /** MCP sessions shared by every agent that names the same server. */
  mcp: McpPool;
  /** Origins no tool may reach unless it says `allowInternal`: ARI and this server's own HTTP port. */
  deniedOrigins: readonly string[];
}

/** An agent with its providers; `deps` gives the conversation its stages for one call. */
export interface AgentRuntime {
  readonly settings: AgentSettings;
  /** Undefined when the agent has no recognizer: its calls get the echo. */
  readonly asr: Asr | undefined;
  readonly cache: PhraseCache;
  /** The conversation's stages, with this call's system prompt. */
  deps(systemPrompt: string): Omit<ConversationDeps, 'observer' | 'onCallEnd' | 'recognizerHealth' | 'channelControl'>;
  /**
   * Synthesizes the agent's fixed lines and connects its tools ahead of its first call, the
   * greeting first (every call starts with it); `greeting` settles once it is ready, `all` once
   * everything is. Neither rejects: failures are logged.
   */
  warm(): { greeting: Promise<void>; all: Promise<void> };
  /** Releases the agent's tools (its MCP sessions stay in the shared pool). */
  close(): Promise<void>;
}

/** Provider clients keyed by their settings: built on first use, shared after. */
export class ProviderPool {
  readonly #items = new Map<string, unknown>();

  get<T>(kind: string, settings: unknown, build: () => T): T {
    const key = `${kind}\u0000${JSON.stringify(settings)}`;
    if (!this.#items.has(key)) this.#items.set(key, build());
    return this.#items.get(key) as T;
  }
}

/** Builds an agent's runtime; providers with settings seen before are reused. */
export function createAgentRuntime(agent: AgentSettings, shared: AgentShared): AgentRuntime {
  const { providers, observer, yandex } = shared;
  // Each provider opens its connection once, when first built, and keeps it warm.
  const warmed = <T extends { keepWarm?(): void } | undefined>(provider: T): T => (provider?.keepWarm?.(), provider);
  const asr = providers.get('asr', agent.asr, () => warmed(createAsr(agent.asr, yandex, shared.log.child({ component: 'asr' }), observer)));
  const { systemPrompt: _template, ...llmSettings } = agent.llm;
  const llm = providers.get<Llm>('llm', llmSettings, () => createOpenAiLlm(agent.llm, shared.log.child({ component: 'llm' }), observer));
  // The model is asked only about what a recognizer heard: without one there is nothing to keep warm.
  if (asr !== undefined) llm.keepWarm?.();
  const tts = providers.get<Tts>('tts', agent.tts, () => warmed(createTts(agent.tts, yandex, shared.log.child({ component: 'tts' }), observer)));
  const cache = providers.get('phrases', agent.tts, () => createPhraseCache(tts, { log: shared.log.child({ component: 'phrases' }) }));
  const chunkOptions = agent.llm.chunker;
  const reply = replyLines(agent.phrases);
  // Exactly the audio that will be played is cached: the call's own lines whole, as the call plays
  // them, and the reply driver's lines as the chunker cuts them.
  const replyPieces = Object.values(reply).flatMap((text) => cutLikeReplies(text, chunkOptions));
  const cached = new Set(replyPieces);
  const cachedTts: Tts = {
    synthesize: (text, request) => (cached.has(text) ? cache.stream(text, request.sampleRate, request.signal) : tts.synthesize(text, request)),
  };
  const greetingAudio = greetingAudioFor(agent);
  const declared = agent.tools;
  const toolbox: Toolbox | undefined =
    declared.http.length + declared.mcp.length === 0
      ? undefined
      : createToolbox({
          http: declared.http,
          mcp: declared.mcp,
          allowHosts: declared.allowHosts,
          deniedOrigins: shared.deniedOrigins,
          log: shared.log.child({ component: 'tools', agent: agent.name }),
          reservedNames: [HANG_UP, TRANSFER],
          mcpPool: shared.mcp,
        });
  const tools = toolbox && { runner: toolbox, maxRounds: declared.maxRounds, fillerDelayMs: declared.fillerDelayMs, maxCallsPerCall: declared.maxCallsPerCall };

  return {
    settings: agent,
    asr,
    cache,
    deps: (systemPrompt) => ({
      asr: asr!,
      createDialogue: (control, callLog) =>
        createDialogue({ llm, config: { ...agent.llm, systemPrompt }, control, log: callLog, observer, phrases: reply, tools }),
      chunks: (deltas) => speakableChunks(deltas, chunkOptions),
      synthesize: (chunks, sampleRate, signal, callLog) =>
        synthesizeInOrder(chunks, cachedTts, { sampleRate, signal, concurrency: agent.tts.concurrency, log: callLog }),
      phrase: (text, sampleRate, signal) => cache.stream(text, sampleRate, signal),
      ...(greetingAudio !== undefined ? { greetingAudio } : {}),
      phrases: agent.phrases,
      config: agent.conversation,
      vadThreshold: shared.call.vadThreshold,
      echoGuard: shared.echoGuard,
    }),
    // The first turn must not wait for MCP servers to connect: ask for the tools now.
    warm: () => {
      const tools = toolbox?.definitions().catch(() => []);
      // A greeting from a prompt file needs no synthesis; an embedded voice synthesizes one line at a time.
      const greeting = greetingAudio === undefined && agent.phrases.greeting.trim() !== '' ? cache.warm([agent.phrases.greeting], WARM_RATES) : Promise.resolve();
      const rest = greeting.then(() => cache.warm([...new Set([...wholeLines(agent.phrases), ...replyPieces])], WARM_RATES));
      return { greeting, all: Promise.all([rest, tools]).then(() => undefined) };
    },
    close: async () => toolbox?.close(),
  };
}

function cutLikeReplies(text: string, options: ChunkerOptions): string[] {
  const chunker = createChunker(options);
  return [...chunker.push(text), ...chunker.end()];
}
