import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import type { CallRecordConfig } from '../metrics/config.js';

/** One line of what was said, for records with transcripts. */
export interface TranscriptLine {
  role: 'caller' | 'bot';
  text: string;
  /** Offset from the call start, ms. */
  atMs?: number;
}

/** One bot turn as the conversation measured it. */
export interface TurnSummary {
  /** Stage → ms after the caller stopped talking (see TURN_STAGES); undefined stages are left out. */
  stages: Readonly<Record<string, number | undefined>>;
  /** Speech end → first reply frame written; goes into the record as stage `voice_to_voice`. */
  voiceToVoiceMs?: number | undefined;
  speculative?: boolean;
  interrupted?: boolean;
}

/** What a call hands over when it ends (the conversation's `CallSummary` fits as is). */
export interface RecordableCall {
  callId: string;
  /** When the call connected (epoch ms or Date). */
  startedAt: number | Date;
  /** How long it lasted; computed from `endedAt` (default: now) when missing. */
  durationMs?: number;
  endedAt?: number | Date;
  /** Why it ended: `caller_hangup`, `bot_hangup`, `transfer`, `drain`, `error`, … */
  outcome: string;
  turns: readonly TurnSummary[];
  /** Dropped unless RECORD_TRANSCRIPTS is on. */
  transcript?: readonly TranscriptLine[];
  /** The agent that answered. */
  agent?: string;
  /** The caller's number, as the channel's caller ID gave it. */
  callerNumber?: string;
  /** The extension the caller dialled. */
  dialed?: string;
  /** Each business tool call: name, duration, outcome. */
  tools?: readonly ToolCallRecord[];
}

/** One business tool call in a record: never its arguments or its answer. */
export interface ToolCallRecord {
  name: string;
  durationMs: number;
  outcome: string;
}

/** One turn in a record. */
export interface TurnRecord {
  stages: Record<string, number>;
  speculative?: boolean;
  interrupted?: boolean;
}

/** The JSON record of one finished call, as logged and POSTed. */
export interface CallRecord {
  callId: string;
  /** ISO 8601. */
  start: string;
  durationMs: number;
  outcome: string;
  agent?: string;
  /** Masked to its last digits unless RECORD_MASK_CALLER_NUMBER=false. */
  callerNumber?: string;
  dialed?: string;
  turns: TurnRecord[];
  tools?: ToolCallRecord[];
  transcript?: TranscriptLine[];
}

/** Writes call records to the log and delivers them to the webhook in the background. */
export interface CallRecorder {
  /** Logs the record and queues its delivery; never throws and never waits. */
  record(call: RecordableCall): void;
  /** Waits for in-flight deliveries, at most `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Deliveries still in flight. */
  readonly pending: number;
}

/** Builds the record of one call from its summary, keeping the transcript only when allowed. */
export function buildCallRecord(call: RecordableCall, withTranscript: boolean, maskCaller = true): CallRecord {
  const start = toMs(call.startedAt);
  const durationMs = call.durationMs ?? (call.endedAt === undefined ? Date.now() : toMs(call.endedAt)) - start;
  const record: CallRecord = {
    callId: call.callId,
    start: new Date(start).toISOString(),
    durationMs: Math.max(0, Math.round(durationMs)),
    outcome: call.outcome,
    ...(call.agent !== undefined ? { agent: call.agent } : {}),
    ...(call.callerNumber !== undefined && call.callerNumber !== '' ? { callerNumber: maskCaller ? maskNumber(call.callerNumber) : call.callerNumber } : {}),
    ...(call.dialed !== undefined && call.dialed !== '' ? { dialed: call.dialed } : {}),
    turns: call.turns.map(turnRecord),
    ...(call.tools !== undefined && call.tools.length > 0 ? { tools: call.tools.map(({ name, durationMs, outcome }) => ({ name, durationMs, outcome })) } : {}),
  };
  if (withTranscript && call.transcript) {
    record.transcript = call.transcript.map(({ role, text, atMs }) => (atMs === undefined ? { role, text } : { role, text, atMs }));
  }
  return record;
}

/** A caller's number with all but its last three digits hidden: `+7*******567`. */
export function maskNumber(number: string): string {
  const keep = 3;
  let seen = 0;
  const chars = [...number];
  for (let i = chars.length - 1; i >= 0; i--) {
    if (!/\d/.test(chars[i]!)) continue;
    seen++;
    if (seen > keep) chars[i] = '*';
  }
  return chars.join('');
}

/** Creates the recorder: one `info` log line per call, plus a POST to CALL_WEBHOOK_URL when set. */
export function createCallRecorder(config: CallRecordConfig, log: Logger): CallRecorder {
  const rlog = log.child({ component: 'call-record' });
  const inFlight = new Set<Promise<void>>();
  const target = config.webhookUrl === undefined ? undefined : describeTarget(config.webhookUrl);

  function deliver(record: CallRecord): void {
    if (config.webhookUrl === undefined) return;
    if (inFlight.size >= config.webhookMaxInFlight) {
      rlog.warn({ callId: record.callId, inFlight: inFlight.size }, 'call record webhook queue full, record dropped');
      return;
    }
    const delivery = post(config.webhookUrl, record).catch((err: unknown) => {
      rlog.warn({ callId: record.callId, err }, 'call record delivery crashed');
    });
    inFlight.add(delivery);
    void delivery.finally(() => inFlight.delete(delivery));
  }

  async function post(url: string, record: CallRecord): Promise<void> {
    const body = JSON.stringify(record);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (config.webhookSecret !== undefined) {
      headers['x-voicebot-signature'] = `sha256=${createHmac('sha256', config.webhookSecret).update(body).digest('hex')}`;
    }
    const attempts = config.webhookRetries + 1;
    let last: { status?: number; error?: string } = {};
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(config.webhookTimeoutMs),
        });
        await res.body?.cancel().catch(() => {});
        if (res.ok) {
          rlog.debug({ callId: record.callId, attempt, status: res.status }, 'call record delivered');
          return;
        }
        last = { status: res.status };
        if (res.status < 500 && res.status !== 429) break;
      } catch (err) {
        last = { error: errorName(err) };
      }
      if (attempt < attempts) await sleep(config.webhookBackoffMs * 2 ** (attempt - 1));
    }
    rlog.warn({ callId: record.callId, target, attempts, ...last }, 'call record webhook failed');
  }

  return {
    get pending() {
      return inFlight.size;
    },
    record(call) {
      try {
        const record = buildCallRecord(call, config.recordTranscripts, config.maskCallerNumber);
        // Transcripts are personal data: the info line never carries them, only the webhook does.
        const { transcript, ...logged } = record;
        rlog.info({ record: logged }, 'call record');
        if (transcript) rlog.debug({ callId: record.callId, transcript }, 'call transcript');
        deliver(record);
      } catch (err) {
        rlog.warn({ err, callId: call?.callId }, 'call record failed');
      }
    },
    async flush(timeoutMs) {
      if (inFlight.size === 0) return;
      const ac = new AbortController();
      const timedOut = await Promise.race([
        Promise.allSettled([...inFlight]).then(() => false),
        sleep(timeoutMs, true, { signal: ac.signal }).catch(() => false),
      ]);
      ac.abort();
      if (timedOut && inFlight.size > 0) {
        rlog.warn({ pending: inFlight.size, timeoutMs }, 'call record webhooks still in flight at flush timeout');
      }
    },
  };
}

function toMs(value: number | Date): number {
  return value instanceof Date ? value.getTime() : value;
}

function turnRecord(turn: TurnSummary): TurnRecord {
  const stages: Record<string, number> = {};
  const all = turn.voiceToVoiceMs === undefined ? turn.stages : { ...turn.stages, voice_to_voice: turn.voiceToVoiceMs };
  for (const [stage, ms] of Object.entries(all)) {
    if (ms !== undefined && Number.isFinite(ms)) stages[stage] = Math.round(ms * 10) / 10;
  }
  const out: TurnRecord = { stages };
  if (turn.speculative) out.speculative = true;
  if (turn.interrupted) out.interrupted = true;
  return out;
}

/** Scheme and host only: paths, query strings and user info of webhook URLs often hold tokens. */
function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'invalid url';
  }
}

function errorName(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return cause.code;
    return err.name === 'TimeoutError' ? 'timeout' : err.name;
  }
  return 'unknown';
}
