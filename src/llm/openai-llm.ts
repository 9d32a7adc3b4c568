import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from 'openai';
import type { ChatCompletionFunctionTool, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { isAbortError, VoicebotError } from '../errors.js';
import type { Logger } from '../logger.js';
import { noopObserver, type Observer } from '../metrics/observer.js';
import { createWarmHttp, PROBE_TIMEOUT_MS } from '../net/warm-http.js';
import type { LlmConfig } from './config.js';
import type { ChatMessage, Llm, LlmEvent, ToolCall } from './llm.js';
import { toolDefinitions } from './tools.js';

/**
 * A streamed chat model on any OpenAI-compatible endpoint (OpenAI, Yandex, vLLM, Ollama,
 * llama.cpp). Retries are the reply driver's, so the package's own are off; the turn's signal
 * cancels the HTTP request. Tool calls are yielded once the stream has finished.
 */
export function createOpenAiLlm(config: LlmConfig, log: Logger, observer: Observer = noopObserver): Llm {
  const pool = createWarmHttp({ provider: 'llm', intervalMs: config.keepWarmMs, log });
  const client = new OpenAI({
    fetch: pool.fetch,
    // Local servers (Ollama, vLLM, llama.cpp) need no key, but the package insists on one.
    apiKey: config.apiKey ?? 'none',
    baseURL: config.baseUrl ?? null,
    // Explicit, so the package reads nothing from the environment behind the config's back.
    organization: null,
    project: config.project ?? null,
    adminAPIKey: null,
    webhookSecret: null,
    logLevel: 'off',
    maxRetries: 0,
    timeout: 10 * 60_000,
  });
  const tools = toolDefinitions(config.transferDestinations);
  const llmLog = log.child({ provider: 'llm', model: config.model });

  return {
    keepWarm() {
      if (config.keepWarmMs === 0) return;
      // Listing models is free on every OpenAI-compatible server; any HTTP answer means connected.
      pool.keepWarm(() =>
        client.models.list({ timeout: PROBE_TIMEOUT_MS }).then(
          () => undefined,
          (err: unknown) => {
            if (!(err instanceof APIError) || err.status === undefined) throw err;
          },
        ),
      );
    },
    async *reply(history: readonly ChatMessage[], signal: AbortSignal, extra: readonly ChatCompletionFunctionTool[] = []): AsyncGenerator<LlmEvent> {
      const offered = extra.length === 0 ? tools : [...tools, ...extra];
      if (signal.aborted) return;
      llmLog.debug({ messages: history }, 'llm request');
      let stream;
      try {
        stream = await client.chat.completions.create(
          {
            model: config.model,
            messages: history as ChatCompletionMessageParam[],
            stream: true,
            ...(config.temperature === undefined ? {} : { temperature: config.temperature }),
            ...(config.maxTokens === undefined ? {} : { max_tokens: config.maxTokens }),
            ...(offered.length === 0 ? {} : { tools: offered }),
          },
          { signal },
        );
      } catch (err) {
        if (signal.aborted) return;
        throw fail(err, llmLog, observer);
      }

      const calls = new Map<number, { id: string; name: string; arguments: string }>();
      let finished = false;
      try {
        for await (const chunk of stream) {
          if (signal.aborted) return;
          const choice = chunk.choices?.[0];
          if (choice === undefined) continue;
          const content = choice.delta?.content;
          if (typeof content === 'string' && content !== '') yield { type: 'text', text: content };
          for (const part of choice.delta?.tool_calls ?? []) {
            const index = part.index ?? 0;
            let call = calls.get(index);
            if (call === undefined) {
              call = { id: '', name: '', arguments: '' };
              calls.set(index, call);
            }
            if (part.id) call.id = part.id;
            if (part.function?.name && call.name === '') call.name = part.function.name;
            if (part.function?.arguments) call.arguments += part.function.arguments;
          }
          if (choice.finish_reason) finished = true;
        }
      } catch (err) {
        if (signal.aborted) return;
        throw fail(err, llmLog, observer);
      }
      // The package ends a stream quietly when its request is aborted.
      if (signal.aborted) return;
      if (!finished) {
        throw fail(new VoicebotError('llm_unavailable', 'the model stream ended before the reply was finished'), llmLog, observer);
      }
      for (const [index, call] of [...calls.entries()].sort((a, b) => a[0] - b[0])) {
        if (call.name === '') {
          llmLog.warn({ index }, 'tool call without a name ignored');
          continue;
        }
        const toolCall: ToolCall = {
          id: call.id === '' ? `call_${index}` : call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        };
        yield { type: 'tool_call', call: toolCall };
      }
    },
  };
}

function fail(err: unknown, log: Logger, observer: Observer): VoicebotError {
  const wrapped = toVoicebotError(err);
  observer.providerError('llm', wrapped.code);
  // The reply that made the request logs the failure once; this only adds the endpoint's status.
  log.debug({ code: wrapped.code, status: err instanceof APIError ? err.status : undefined }, 'llm request failed');
  return wrapped;
}

/** Maps whatever the openai package or the network threw to the project's error codes. */
export function toVoicebotError(err: unknown): VoicebotError {
  if (err instanceof VoicebotError) return err;
  if (err instanceof APIConnectionTimeoutError) {
    return new VoicebotError('llm_timeout', 'the model endpoint timed out', { cause: err });
  }
  if (err instanceof APIConnectionError) {
    return new VoicebotError('llm_unavailable', 'the model endpoint is unreachable', { cause: err });
  }
  if (err instanceof APIUserAbortError || isAbortError(err)) {
    return new VoicebotError('llm_unavailable', 'the model request was aborted', { cause: err });
  }
  if (err instanceof APIError) {
    const status = err.status;
    if (status === undefined || status === 408 || status === 429 || status >= 500) {
      return new VoicebotError('llm_unavailable', `the model endpoint answered ${status ?? 'with an error event'}`, { cause: err });
    }
    return new VoicebotError('llm_failed', `the model endpoint rejected the request with ${status}`, { cause: err });
  }
  // undici reports a connection closed mid-body as "TypeError: terminated".
  return new VoicebotError('llm_unavailable', 'the model stream was cut', { cause: err });
}
