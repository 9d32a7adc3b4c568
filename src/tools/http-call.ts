import type { HttpToolDecl } from './http-declarations.js';
import type { HostPolicy } from './host-policy.js';
import { responseText, truncate } from './response-text.js';
import { expandJsonTemplate, expandTemplate } from './template.js';
import { errorAnswerText, FAILURE_TEXT, invalidArgumentsText, type ToolOutcome } from './tool-result.js';

/** How one HTTP tool request ended; `detail` is for the log (never a URL, header or body). */
export interface HttpCallResult {
  outcome: ToolOutcome;
  content: string;
  status?: number;
  detail?: string;
}

const MAX_REDIRECTS = 3;
const ERROR_DETAIL_CHARS = 300;

class Timeout extends Error {}
class TooLarge extends Error {}

/**
 * Makes the tool's request with validated arguments. The caller's signal and the tool's timeout
 * abort it on the wire; redirects are followed only within the same origin and the host policy;
 * the answer is read up to `maxBytes`. Never throws.
 */
export async function callHttpTool(
  tool: HttpToolDecl,
  args: Readonly<Record<string, unknown>>,
  signal: AbortSignal,
  policy: HostPolicy,
): Promise<HttpCallResult> {
  const built = buildUrl(tool, args);
  if ('invalid' in built) return { outcome: 'invalid_arguments', content: invalidArgumentsText(built.invalid) };
  let url = built.url;
  const refusal = policy.refusal(url, tool.allowInternal);
  if (refusal !== undefined) return { outcome: 'refused', content: FAILURE_TEXT.refused, detail: refusal };
  if (signal.aborted) return { outcome: 'aborted', content: FAILURE_TEXT.aborted };

  const headers = new Headers({ accept: 'application/json, text/plain;q=0.9, */*;q=0.1' });
  for (const [name, template] of tool.headers) {
    const value = expandTemplate(template, args);
    if ('value' in value) headers.set(name, value.value);
  }
  let body: string | undefined;
  if (tool.body !== undefined) {
    body = JSON.stringify(tool.body === 'arguments' ? args : expandJsonTemplate(tool.body, args));
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }

  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new Timeout()), tool.timeoutMs);
  let method: string = tool.method;
  try {
    for (let hop = 0; ; hop++) {
      const response = await fetch(url, { method, headers, body, redirect: 'manual', signal: controller.signal });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        const next = new URL(location, url);
        const why = next.origin !== url.origin ? 'a redirect to another origin' : hop >= MAX_REDIRECTS ? 'too many redirects' : policy.refusal(next, tool.allowInternal);
        if (why !== undefined) return { outcome: 'refused', content: FAILURE_TEXT.refused, status: response.status, detail: why };
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method !== 'GET')) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      const text = await readCapped(response, tool.maxBytes, controller);
      if (response.status >= 400) {
        const detail = text.trim() === '' ? '' : truncate(responseText(text, { maxChars: ERROR_DETAIL_CHARS }), ERROR_DETAIL_CHARS);
        return { outcome: 'http_error', content: errorAnswerText(`The service answered with error ${response.status}`, detail), status: response.status };
      }
      return { outcome: 'ok', content: responseText(text, { fields: tool.fields, maxChars: tool.maxChars }), status: response.status };
    }
  } catch (err) {
    if (signal.aborted) return { outcome: 'aborted', content: FAILURE_TEXT.aborted };
    if (controller.signal.reason instanceof Timeout) return { outcome: 'timeout', content: FAILURE_TEXT.timeout, detail: `no answer within ${tool.timeoutMs} ms` };
    if (err instanceof TooLarge) return { outcome: 'too_large', content: FAILURE_TEXT.too_large, detail: err.message };
    return { outcome: 'unavailable', content: FAILURE_TEXT.unavailable, detail: networkDetail(err) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

function buildUrl(tool: HttpToolDecl, args: Readonly<Record<string, unknown>>): { url: URL } | { invalid: string } {
  const path = expandTemplate(tool.url, args, encodeURIComponent);
  if ('missing' in path) return { invalid: `${path.missing} is required` };
  let url: URL;
  try {
    url = new URL(path.value);
  } catch {
    return { invalid: 'the arguments do not make a valid address' };
  }
  for (const [name, template] of tool.query) {
    const value = expandTemplate(template, args);
    if ('value' in value) url.searchParams.append(name, value.value);
  }
  return { url };
}

async function readCapped(response: Response, maxBytes: number, controller: AbortController): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    controller.abort();
    throw new TooLarge(`content-length ${declared} over ${maxBytes} bytes`);
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      // Stop the transfer: nobody reads the rest.
      controller.abort();
      throw new TooLarge(`more than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function networkDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } })?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.name : 'network error';
}
