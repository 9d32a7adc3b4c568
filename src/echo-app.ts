/** The pipeline used until a recognizer is configured: a greeting, then the caller's words played back. */
import { WARM_RATES } from './agents/runtime.js';
import type { App } from './app-contract.js';
import type { AudioSocketCall } from './audiosocket/server.js';
import { createEchoHandler } from './call/echo.js';
import type { Config } from './config.js';
import type { BotLanguage } from './llm/config.js';
import type { Logger } from './logger.js';
import type { PhraseCache } from './tts/phrase-cache.js';

const ECHO_GREETING: Record<BotLanguage, string> = {
  ru: 'Здравствуйте! Это эхо-тест: скажите что-нибудь, и я повторю.',
  en: 'Hello! This is an echo test: say something and I will repeat it.',
};

/** The echo pipeline, greeted by the configured voice so a fresh install speaks at once. */
export function echoApp(config: Config, cache: PhraseCache, log: Logger): App {
  const echo = createEchoHandler(config.call);
  const greeting = config.conversation.greetingText ?? ECHO_GREETING[config.llm.language];
  const greetingsReady = cache.warm([greeting], WARM_RATES).catch((err: unknown) => {
    log.warn({ err }, 'greeting could not be synthesized ahead');
  });
  const onCall = async (call: AudioSocketCall): Promise<void> => {
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
  };
  return {
    mode: 'echo',
    greetingsReady,
    onCall,
    agentPorts: [],
    onCallAt: () => onCall,
    goodbye: async (call) => call.hangUp('server_closed'),
    readiness: () => ({ ready: true, reasons: [] }),
  };
}
