/** How a tool call ended. */
export type ToolOutcome =
  | 'ok'
  | 'invalid_arguments'
  | 'http_error'
  | 'timeout'
  | 'too_large'
  | 'unavailable'
  | 'aborted'
  | 'unknown_tool'
  | 'refused'
  | 'tool_error';

/** A tool call's result: `content` is what the model reads, whatever the outcome. */
export interface ToolResult {
  ok: boolean;
  content: string;
  durationMs: number;
  outcome: ToolOutcome;
}

/** What the model reads when a call did not give an answer, so it can tell the caller in its own words. */
export const FAILURE_TEXT: Record<Exclude<ToolOutcome, 'ok' | 'http_error' | 'tool_error' | 'invalid_arguments' | 'unknown_tool'>, string> = {
  timeout: 'The service did not answer in time. Apologise to the caller and offer to try again later.',
  too_large: 'The service answered with more data than can be read. Apologise to the caller and offer other help.',
  unavailable: 'The service is unavailable right now. Apologise to the caller and offer to try again later.',
  aborted: 'Not done: the caller interrupted.',
  refused: 'This service may not be called. Apologise to the caller and offer other help.',
};

/** The model's text for arguments that do not fit the tool's schema. */
export function invalidArgumentsText(detail: string): string {
  return `Invalid arguments: ${detail}. Call the tool again with corrected arguments, or ask the caller for what is missing.`;
}

/** The model's text for a tool that is not offered. */
export function unknownToolText(name: string): string {
  return `There is no tool named "${name}". Answer the caller in words.`;
}

/** The model's text for an error answer, with the service's own words if it gave any. */
export function errorAnswerText(what: string, detail: string): string {
  const words = detail.trim().replace(/[.!\s]+$/, '');
  return `${what}${words === '' ? '' : `: ${words}`}. Tell the caller you could not get this information.`;
}
