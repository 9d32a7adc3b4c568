/** Plain-text tables for simulated call reports, one call or many. */
import type { CallReport, HeardTone } from './run-call.js';
import { percentile } from './stats.js';

const fmt = (v: number | undefined, digits = 0): string => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** The per-turn table and jitter line for one call. */
export function formatCallReport(report: CallReport): string {
  const rows = report.turns.map((t) => [
    String(t.index + 1),
    fmt(t.startMs),
    fmt(t.speechEndMs),
    fmt(t.replyStartMs),
    `${fmt(t.latencyMs)}${t.talkingAtSpeechEnd ? '*' : ''}`,
    fmt(t.replyMs),
    fmt(t.soundMs),
    fmt(t.toneHz),
    t.bargeIn === undefined ? '' : `${fmt(t.bargeIn.botStoppedAfterMs)}`,
  ]);
  const j = report.jitter;
  const sizes = Object.entries(report.frameSizes).map(([size, n]) => `${n}×${size}B`).join(' ') || 'none';
  const kinds = Object.keys(report.frameKinds).length > 1 ? `; kinds ${Object.entries(report.frameKinds).map(([kind, n]) => `${n}×${kind}`).join(' ')}` : '';
  const g = report.greeting;
  return [
    `call ${report.uuid} ${report.sampleRate} Hz, ${fmt(report.durationMs / 1000, 1)} s, ended by ${report.endedBy}${report.error ? `: ${report.error}` : ''}`,
    ...(rows.length > 0
      ? [table(['turn', 'start ms', 'speech end ms', 'reply at ms', 'latency ms', 'reply ms', 'sound ms', 'tone Hz', 'barge-in: bot stopped after ms'], rows)]
      : []),
    ...(report.turns.some((t) => t.talkingAtSpeechEnd) ? ['* the bot was already talking when the caller stopped: latency is to its next onset after a pause'] : []),
    ...report.turns.flatMap((t) => (t.byRate === undefined ? [] : [`turn ${t.index + 1} by frame rate: ${byRate(t)}`])),
    ...(g.soundMs !== undefined && g.soundMs > 0 ? [`greeting: ${fmt(g.soundMs)} ms of sound, tone ${fmt(g.toneHz)} Hz${g.byRate === undefined ? '' : `; by frame rate: ${byRate(g)}`}`] : []),
    `sent ${report.framesSent} frames${report.dtmfSent > 0 ? ` + ${report.dtmfSent} DTMF` : ''}, received ${report.framesReceived} (${sizes}${kinds})`,
    `jitter p50 ${fmt(j.p50, 1)} ms, p99 ${fmt(j.p99, 1)} ms, max ${fmt(j.max, 1)} ms; early ${j.early}, late ${j.late}, lost ${j.lost}`,
  ].join('\n');
}

function byRate(tone: HeardTone): string {
  return (tone.byRate ?? []).map((r) => `${r.sampleRate} Hz frames ${fmt(r.soundMs)} ms at ${fmt(r.toneHz)} Hz`).join(', ');
}

/** Aggregate over many concurrent calls: per-turn latency percentiles and jitter. */
export function formatAggregate(reports: readonly CallReport[], failures: readonly string[] = []): string {
  const lines = [`calls: ${reports.length} completed, ${failures.length} failed`];
  for (const [message, n] of countBy(failures)) lines.push(`  failed ×${n}: ${message}`);
  const turns = Math.max(0, ...reports.map((r) => r.turns.length));
  const rows: string[][] = [];
  for (let i = 0; i < turns; i++) {
    const lat = reports.flatMap((r) => (r.turns[i]?.latencyMs === undefined ? [] : [r.turns[i]!.latencyMs!]));
    const dur = reports.flatMap((r) => (r.turns[i]?.replyMs === undefined ? [] : [r.turns[i]!.replyMs!]));
    const hz = reports.flatMap((r) => (r.turns[i]?.toneHz === undefined ? [] : [r.turns[i]!.toneHz!]));
    rows.push([
      String(i + 1),
      String(lat.length),
      fmt(percentile(lat, 50)),
      fmt(percentile(lat, 95)),
      fmt(percentile(lat, 100)),
      fmt(percentile(dur, 50)),
      fmt(percentile(hz, 50)),
    ]);
  }
  if (rows.length > 0) lines.push(table(['turn', 'replies', 'latency p50', 'p95', 'max', 'reply ms p50', 'tone Hz p50'], rows));
  if (reports.length > 0) {
    const p99 = reports.map((r) => r.jitter.p99);
    const sum = (f: (r: CallReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
    lines.push(
      `jitter p99 per call: median ${fmt(percentile(p99, 50), 1)} ms, worst ${fmt(Math.max(...p99), 1)} ms; ` +
        `max ${fmt(Math.max(...reports.map((r) => r.jitter.max)), 1)} ms; early ${sum((r) => r.jitter.early)}, ` +
        `late ${sum((r) => r.jitter.late)}, lost ${sum((r) => r.jitter.lost)}`,
    );
    const ended = countBy(reports.map((r) => r.endedBy));
    lines.push(`ended by: ${[...ended].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  }
  return lines.join('\n');
}

function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}
