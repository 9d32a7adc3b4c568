/** What a finished call reports: how it ended, its turns' latency and its transcript. */
import type { TurnLatency } from './latency-trace.js';

/** How a call ended, from the conversation's point of view. */
export type CallOutcome =
  | 'caller_hangup'
  | 'bot_hangup'
  | 'transfer'
  | 'inactivity'
  | 'max_duration'
  | 'asr_failed'
  | 'drain'
  | 'error';

/** One exchange of the transcript. */
export interface TranscriptEntry {
  role: 'caller' | 'bot';
  text: string;
}

/** A finished call: for the call record and metrics. */
export interface CallSummary {
  callId: string;
  startedAt: number;
  durationMs: number;
  outcome: CallOutcome;
  turns: TurnLatency[];
  transcript: TranscriptEntry[];
  /** The agent that answered, and what the channel told about the caller (set by the app). */
  agent?: string;
  callerNumber?: string;
  dialed?: string;
  /** Each business tool call: name, duration, outcome (never arguments or answers). */
  tools?: readonly { name: string; durationMs: number; outcome: string }[];
}

/** The summary of a call that has ended. */
export function summarizeCall(
  call: { readonly id: string; readonly startedAt: number },
  outcome: CallOutcome,
  turns: { readonly latencies: TurnLatency[]; readonly transcript: TranscriptEntry[] },
  tools: CallSummary['tools'] = [],
): CallSummary {
  return {
    ...(tools.length > 0 ? { tools } : {}),
    callId: call.id,
    startedAt: call.startedAt,
    durationMs: Date.now() - call.startedAt,
    outcome,
    turns: turns.latencies,
    transcript: turns.transcript,
  };
}
