import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths pino replaces with "[redacted]" wherever a secret could end up in a log field. */
const REDACT = [
  'apiKey', '*.apiKey', 'iamToken', '*.iamToken', 'password', '*.password',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
];

/** The one root logger; every call gets `root.child({ callId })`. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'audiosocket-voicebot' }, redact: { paths: REDACT, censor: '[redacted]' } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that writes nothing, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
