import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

/** A debug-level logger whose records are kept, parsed, for assertions on fields and levels. */
export function captureLog(): { log: Logger; records: Record<string, unknown>[]; raw: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = createLogger('debug', sink);
  const records: Record<string, unknown>[] = [];
  return {
    log,
    get records() {
      records.length = 0;
      for (const line of lines.join('').split('\n')) if (line.trim() !== '') records.push(JSON.parse(line));
      return records;
    },
    raw: () => lines.join(''),
  };
}

/** Level numbers of pino. */
export const WARN = 40;
