import { truncate } from './response-text.js';

/** A tool result as the MCP SDK returns it (current or legacy shape). */
export type McpToolResult = {
  content?: unknown;
  structuredContent?: unknown;
  isError?: unknown;
  toolResult?: unknown;
};

/** What the model reads of an MCP tool result: its text parts, else its structured content; cut to `maxChars`. */
export function mcpResultText(result: McpToolResult, maxChars: number): { text: string; isError: boolean } {
  const isError = result.isError === true;
  const parts: string[] = [];
  for (const item of Array.isArray(result.content) ? result.content : []) {
    if (item === null || typeof item !== 'object') continue;
    const part = item as { type?: unknown; text?: unknown; resource?: { text?: unknown } };
    if (part.type === 'text' && typeof part.text === 'string') parts.push(part.text);
    else if (part.type === 'resource' && typeof part.resource?.text === 'string') parts.push(part.resource.text);
  }
  let text = parts.join('\n').trim();
  if (text === '' && result.structuredContent !== undefined) text = JSON.stringify(result.structuredContent);
  if (text === '' && result.toolResult !== undefined) text = JSON.stringify(result.toolResult);
  if (text === '') text = isError ? '(no details)' : '(done, no content)';
  return { text: truncate(text, maxChars), isError };
}
