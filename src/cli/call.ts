/** `npm run call -- …`: place simulated Asterisk calls against an AudioSocket server. */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import { readWav, type WavAudio } from '../audio/wav.js';
import { checkEchoOptions, type EchoOptions } from '../sim/echo-path.js';
import { formatAggregate, formatCallReport } from '../sim/report.js';
import { runCall, type CallReport, type DtmfPlan, type RunCallOptions, type Turn } from '../sim/run-call.js';

const HELP = `Usage: npm run call -- [options]

Places calls the way Asterisk does (TCP AudioSocket: UUID, then 20 ms slin frames in real time,
silence between utterances) and prints, per caller turn, how long the server took to answer and
the reply's sound (ms) and tone (Hz) as the caller heard it, each frame read at its kind's rate.

Options
  --host HOST             server address (default 127.0.0.1)
  --port PORT             server port (default 9092)
  --wav FILE              caller utterance; repeat it or give a comma list for several turns
  --gap MS                wait this long after the bot's reply before the next turn (default 500)
  --at MS,MS,...          instead of --gap: start turn i at this many ms after connect
                          (a time while the bot is still talking makes a barge-in)
  --rate 8000|16000       caller audio rate (default: the first WAV's rate, else 8000);
                          8000 sends kind 0x10, 16000 kind 0x12 as Dial(...c(slin16)) does
  --legacy-8k-label       label 16 kHz frames 0x10 (640 bytes), as Asterisk before 20.17/21.12/22.7
  --ulaw                  send 8 kHz μ-law in 160-byte 0x10 frames, as Dial(...c(ulaw)) does
  --silent-start MS       send no frames at all for MS after the UUID, as Asterisk does until the
                          caller's leg has audio (turns due earlier wait)
  --no-silence            send nothing between utterances, like a leg with silence suppression
  --echo MS:DB            the line echoes: what the bot says comes back MS later and DB down
                          (e.g. 60:-12), mixed into everything sent, silence and utterances alike
  --dtmf DIGITS[@MS]      send DTMF digits (0-9 A-D * #), 350 ms apart, at MS after connect
                          (default 500); repeatable
  --hangup-after S        close the call after S seconds (default: 1 s after the last reply)
  --record FILE           write what the caller heard to a WAV file, each frame at its kind's rate
                          (with --calls, FILE gets -N)
  --calls N               place N concurrent calls and print an aggregate (default 1)
  --uuid UUID             call UUID (default random; only with a single call)
  --quiet                 print only the aggregate line set
  -h, --help              show this help

Examples
  npm run call -- --wav ../shared/audio/en-order-8k.wav
  npm run call -- --wav ../shared/audio/ru-order-16k.wav,../shared/audio/ru-number-16k.wav --gap 800
  npm run call -- --wav a.wav --wav b.wav --at 0,2500 --record reply.wav
  npm run call -- --wav ../shared/audio/en-order-16k.wav --rate 16000 --silent-start 1500
  npm run call -- --wav ../shared/audio/en-order-8k.wav --calls 50 --quiet
  npm run call -- --wav ../shared/audio/en-wait-8k.wav --at 3000 --echo 60:-12
`;

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '9092' },
      wav: { type: 'string', multiple: true },
      gap: { type: 'string' },
      at: { type: 'string' },
      rate: { type: 'string' },
      'legacy-8k-label': { type: 'boolean', default: false },
      ulaw: { type: 'boolean', default: false },
      'silent-start': { type: 'string' },
      'no-silence': { type: 'boolean', default: false },
      echo: { type: 'string' },
      dtmf: { type: 'string', multiple: true },
      'hangup-after': { type: 'string' },
      record: { type: 'string' },
      calls: { type: 'string', default: '1' },
      uuid: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  return values;
}

function int(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

function echoPlan(spec: string | undefined): EchoOptions | undefined {
  if (spec === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?):(-?\d+(?:\.\d+)?)$/.exec(spec);
  if (match === null) throw new UsageError(`--echo takes DELAY_MS:GAIN_DB, e.g. 60:-12, got ${JSON.stringify(spec)}`);
  const echo = { delayMs: Number(match[1]), gainDb: Number(match[2]) };
  try {
    checkEchoOptions(echo);
  } catch (err) {
    throw new UsageError(`--echo: ${(err as Error).message}`);
  }
  return echo;
}

function dtmfPlans(specs: string[]): DtmfPlan[] {
  return specs.map((spec) => {
    const [digits = '', at] = spec.split('@');
    if (!/^[0-9A-Da-d*#]+$/.test(digits)) throw new UsageError(`--dtmf takes digits 0-9 A-D * #, got ${JSON.stringify(digits)}`);
    return { digits: digits.toUpperCase(), at: int('dtmf', at ?? '500', 0, 3_600_000)! };
  });
}

async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const port = int('port', values.port, 1, 65535)!;
  const calls = int('calls', values.calls, 1, 10_000)!;
  const gap = int('gap', values.gap, 0, 600_000) ?? 500;
  const hangupAfter = int('hangup-after', values['hangup-after'], 0, 86_400);
  const rateArg = values.rate === undefined ? undefined : Number(values.rate);
  if (rateArg !== undefined && rateArg !== 8000 && rateArg !== 16000) throw new UsageError(`--rate must be 8000 or 16000, got ${values.rate}`);
  if (values.ulaw && (rateArg === 16000 || values['legacy-8k-label'])) throw new UsageError('--ulaw is 8 kHz: it cannot be used with --rate 16000 or --legacy-8k-label');
  const silentStart = int('silent-start', values['silent-start'], 0, 600_000);
  if (values.uuid !== undefined && calls > 1) throw new UsageError('--uuid names one call; it cannot be used with --calls > 1');
  const echo = echoPlan(values.echo);

  const paths = (values.wav ?? []).flatMap((w) => w.split(',')).filter((p) => p !== '');
  const wavs: WavAudio[] = [];
  for (const path of paths) wavs.push(await readWav(path));
  const at = values.at?.split(',').map((t) => int('at', t, 0, 3_600_000)!);
  if (at !== undefined && at.length !== wavs.length) throw new UsageError(`--at gives ${at.length} times for ${wavs.length} WAV files`);
  const turns: Turn[] = wavs.map((w, i) => (at !== undefined ? { ...w, at: at[i]! } : i === 0 ? { ...w, at: 0 } : { ...w, afterReplyMs: gap }));
  const sampleRate = (values.ulaw ? 8000 : (rateArg ?? (wavs[0]?.sampleRate === 16000 ? 16000 : 8000))) as 8000 | 16000;
  if (turns.length === 0 && hangupAfter === undefined && (values.dtmf ?? []).length === 0) {
    throw new UsageError('nothing to do: give --wav, --dtmf or --hangup-after (see --help)');
  }

  const base: RunCallOptions = {
    host: values.host,
    port,
    sampleRate,
    legacy8kLabel: values['legacy-8k-label'],
    encoding: values.ulaw ? 'ulaw' : 'slin',
    ...(silentStart !== undefined ? { silentStartMs: silentStart } : {}),
    fillSilence: !values['no-silence'],
    ...(echo !== undefined ? { echo } : {}),
    keepPayload: values.record !== undefined,
    turns,
    dtmf: dtmfPlans(values.dtmf ?? []),
    ...(hangupAfter !== undefined ? { hangupAfterMs: hangupAfter * 1000 } : {}),
  };
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  process.once('SIGINT', () => stop.abort());

  const results = await Promise.allSettled(
    Array.from({ length: calls }, (_, i) =>
      runCall({
        ...base,
        uuid: values.uuid ?? randomUUID(),
        signal: stop.signal,
        ...(values.record !== undefined ? { recordPath: calls === 1 ? values.record : values.record.replace(/(\.wav)?$/i, `-${i + 1}$1`) } : {}),
      }),
    ),
  );
  const reports: CallReport[] = [];
  const failures: string[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') reports.push(r.value);
    else failures.push((r.reason as Error).message);
  }
  if (calls === 1) {
    if (failures.length > 0) {
      process.stderr.write(`call failed: ${failures[0]}\n`);
      return 1;
    }
    process.stdout.write(`${formatCallReport(reports[0]!)}\n`);
    if (values.record !== undefined) process.stdout.write(`recorded to ${values.record}\n`);
  } else {
    if (!values.quiet) for (const r of reports) process.stdout.write(`${formatCallReport(r)}\n\n`);
    process.stdout.write(`${formatAggregate(reports, failures)}\n`);
  }
  const errored = reports.filter((r) => r.endedBy === 'error').length;
  return failures.length > 0 || errored > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(err instanceof UsageError ? `${message}\n(see --help)\n` : `error: ${message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
