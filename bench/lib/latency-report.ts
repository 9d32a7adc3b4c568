/** The latency benchmark's tables: voice to voice and overhead per level, server stages, barge-in. */
import { percentile } from '../../src/sim/stats.js';
import type { CallerResult } from './latency-caller.js';

/** The providers' fixed latencies a level is measured against, ms. */
export interface Floor {
  asr: number;
  firstToken: number;
  /** The model's own streaming time from its first token to the token that ends the first chunk. */
  stream: number;
  tts: number;
}

const total = (f: Floor): number => f.asr + f.firstToken + f.stream + f.tts;

/** What one scenario run produced. */
export interface RunResult {
  callers: CallerResult[];
  logs: Record<string, any>[];
  wallMs: number;
  serverCpuPct: number;
  serverRssMaxMb: number;
  fakesCpuPct: number;
  callerLoopP99Ms: number;
  callerLoopMaxMs: number;
  serverLoopP99Ms: number;
  serverLoopMaxMs: number;
  fakesLoopP99Ms: number;
  fakesLoopMaxMs: number;
  /** CPU of the benchmark process (the callers), % of one core. */
  callerCpuPct: number;
}

/** Figures of one level. */
export interface LevelFigures {
  label: string;
  /** How the model's tokens were streamed, and the floor that follows from it. */
  tokens: string;
  floor: Floor;
  samples: number;
  missing: number;
  errors: string[];
  v2v: number[];
  turnLines: Record<string, any>[];
  run: RunResult;
}

/** Collects a level's voice-to-voice samples and the server's turn lines. */
export function levelFigures(label: string, tokens: string, floor: Floor, run: RunResult): LevelFigures {
  const v2v: number[] = [];
  let missing = 0;
  for (const c of run.callers) {
    for (const l of c.latenciesMs) {
      if (l === undefined) missing++;
      else v2v.push(l);
    }
  }
  return {
    label,
    tokens,
    floor,
    samples: v2v.length,
    missing,
    errors: run.callers.flatMap((c) => (c.error === undefined ? [] : [c.error])),
    v2v,
    turnLines: run.logs.filter((l) => l.msg === 'turn latency'),
    run,
  };
}

const median = (values: number[]): number => percentile(values, 50);
const fmt = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

function stageMedians(lines: Record<string, any>[]): Record<string, number> {
  const diff = (a: string, b?: string) =>
    median(lines.filter((l) => typeof l[a] === 'number' && (b === undefined || typeof l[b] === 'number')).map((l) => l[a] - (b === undefined ? 0 : l[b])));
  return {
    asr: diff('asr_final'),
    llm: diff('llm_first_token', 'asr_final'),
    chunk: diff('first_chunk', 'llm_first_token'),
    tts: diff('tts_first_audio', 'first_chunk'),
    frame: diff('first_frame', 'tts_first_audio'),
    v2v: diff('first_frame'),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

/** Prints the levels table and the server's per-stage medians. */
export function printLevels(levels: { figures: LevelFigures; target: number | undefined }[]): void {
  const rows: string[][] = [
    ['level', 'samples', 'floor', 'v2v p50', 'p95', 'max', 'overhead p50', 'p95', 'target p95', 'met', 'speculative', 'srv CPU %', 'srv RSS MB', 'srv lag p99/max', 'fakes CPU %', 'fakes lag p99/max', 'caller CPU %', 'caller lag p99/max'],
  ];
  for (const { figures: f, target } of levels) {
    const floor = total(f.floor);
    const p95 = percentile(f.v2v, 95) - floor;
    const spec = f.turnLines.filter((l) => l.speculative === true).length;
    rows.push([
      f.label,
      `${f.samples}${f.missing > 0 ? ` (+${f.missing} none)` : ''}`,
      fmt(floor),
      fmt(median(f.v2v)),
      fmt(percentile(f.v2v, 95)),
      fmt(Math.max(...f.v2v)),
      fmt(median(f.v2v) - floor),
      fmt(p95),
      target === undefined ? '–' : `≤ ${target}`,
      target === undefined ? '–' : p95 <= target ? 'yes' : 'NO',
      `${spec}/${f.turnLines.length}`,
      fmt(f.run.serverCpuPct),
      fmt(f.run.serverRssMaxMb),
      `${fmt(f.run.serverLoopP99Ms, 1)}/${fmt(f.run.serverLoopMaxMs, 1)}`,
      fmt(f.run.fakesCpuPct),
      `${fmt(f.run.fakesLoopP99Ms, 1)}/${fmt(f.run.fakesLoopMaxMs, 1)}`,
      fmt(f.run.callerCpuPct),
      `${fmt(f.run.callerLoopP99Ms, 1)}/${fmt(f.run.callerLoopMaxMs, 1)}`,
    ]);
  }
  process.stdout.write(`${table(rows)}\n\n`);
  const stageRows: string[][] = [
    ['server stages (median ms)', 'asr_final', 'llm_first_token−asr', 'first_chunk−llm', 'tts_first_audio−chunk', 'first_frame−tts', 'server v2v'],
  ];
  const floors = new Set<string>();
  for (const { figures: f } of levels) {
    if (!floors.has(f.tokens)) {
      floors.add(f.tokens);
      const { asr, firstToken, stream, tts } = f.floor;
      stageRows.push([`provider floor, ${f.tokens} tokens`, `${asr}`, `${firstToken}`, `${stream}`, `${tts}`, '0', `${total(f.floor)}`]);
    }
    const m = stageMedians(f.turnLines);
    stageRows.push([f.label, fmt(m.asr!, 1), fmt(m.llm!, 1), fmt(m.chunk!, 1), fmt(m.tts!, 1), fmt(m.frame!, 1), fmt(m.v2v!, 1)]);
  }
  process.stdout.write(`${table(stageRows)}\n`);
  for (const { figures: f } of levels) {
    if (f.errors.length > 0) process.stdout.write(`${f.label}: ${f.errors.length} caller error(s), e.g. ${f.errors[0]}\n`);
  }
  process.stdout.write('\n');
}

/** Prints how many voiced frames still reached the caller after each barge-in decision. */
export function printBargeIn(r: RunResult, targetFrames: number): void {
  const decisions = new Map<string, Record<string, any>>();
  for (const l of r.logs) if (l.msg === 'barge-in' && !decisions.has(l.callId)) decisions.set(l.callId, l);
  const frames: number[] = [];
  const lastMs: number[] = [];
  let noDecision = 0;
  for (const c of r.callers) {
    const d = decisions.get(c.uuid);
    const second = c.clips[1];
    if (d === undefined || second === undefined || !Number.isFinite(c.t0EpochMs)) {
      noDecision++;
      continue;
    }
    const decisionMs = Number(d.time) - c.t0EpochMs;
    // Voiced frames of the cut reply: before the reply to the interruption could start.
    const cut = c.voicedMs.filter((at) => at > second.startMs - 1000 && at < second.speechEndMs);
    frames.push(cut.filter((at) => at > decisionMs).length);
    lastMs.push(cut.length === 0 ? NaN : cut[cut.length - 1]! - decisionMs);
  }
  const finite = lastMs.filter(Number.isFinite);
  const maxFrames = frames.length === 0 ? NaN : Math.max(...frames);
  const rows = [
    ['barge-in', 'calls', 'decided', 'frames after decision p50', 'max', 'last voiced frame − decision ms p50', 'max', 'target', 'met', 'srv CPU %'],
    [
      `${r.callers.length} calls, interrupt 1.5 s into the reply`,
      `${r.callers.length}`,
      `${frames.length}`,
      fmt(median(frames)),
      fmt(maxFrames),
      fmt(median(finite), 1),
      fmt(finite.length === 0 ? NaN : Math.max(...finite), 1),
      `≤ ${targetFrames} frame`,
      frames.length > 0 && maxFrames <= targetFrames ? 'yes' : 'NO',
      fmt(r.serverCpuPct),
    ],
  ];
  process.stdout.write(`${table(rows)}\n`);
  if (noDecision > 0) process.stdout.write(`${noDecision} call(s) logged no barge-in decision\n`);
  const errors = r.callers.flatMap((c) => (c.error === undefined ? [] : [c.error]));
  if (errors.length > 0) process.stdout.write(`${errors.length} caller error(s), e.g. ${errors[0]}\n`);
}

/** One run of the first-call scenario. */
export interface FirstCallRow {
  label: string;
  run: RunResult;
}

/** The first call after start beside the later ones: what connection set-up costs. */
export function printFirstCalls(rows: FirstCallRow[], connectDelayMs: number): void {
  const table1: string[][] = [['first call after start', 'calls', 'first v2v', 'later v2v p50', 'first − later', 'first llm−asr', 'later llm−asr p50', 'first tts−chunk', 'later tts−chunk p50', 'first greeting audio', 'later greeting p50']];
  for (const { label, run } of rows) {
    const v2v = run.callers.map((c) => c.latenciesMs[0]);
    const lines = run.callers.map((c) => run.logs.find((l) => l.msg === 'turn latency' && l.callId === c.uuid));
    const llm = lines.map((l) => (l && typeof l.llm_first_token === 'number' ? l.llm_first_token - l.asr_final : NaN));
    const tts = lines.map((l) => (l && typeof l.tts_first_audio === 'number' ? l.tts_first_audio - l.first_chunk : NaN));
    const later = (values: (number | undefined)[]) => median(values.slice(1).filter((v): v is number => v !== undefined && Number.isFinite(v)));
    const greeting = run.callers.map((c) => c.greetingMs);
    const first = v2v[0] ?? NaN;
    table1.push([
      label, `${run.callers.length}`, fmt(first), fmt(later(v2v)), fmt(first - later(v2v)), fmt(llm[0]!, 1), fmt(later(llm), 1), fmt(tts[0]!, 1), fmt(later(tts), 1),
      fmt(greeting[0] ?? NaN, 1), fmt(later(greeting), 1),
    ]);
  }
  process.stdout.write(`${table(table1)}\n(each new connection to a fake waits ${connectDelayMs} ms, as a handshake with a remote provider would; greeting audio = the caller's first frame → the greeting's first voiced frame, target ≤ 60 ms)\n\n`);
}
