/** `npm run bench -- [part…] [--flags]`: runs benchmark parts, each a `./<part>.ts` exporting `run()`. */
import { existsSync } from 'node:fs';

const PARTS = ['transport', 'asr', 'tts', 'latency', 'echo'] as const;

// Part names are the words that are neither flags nor a flag's value (`--seconds 5`, `--levels=100`).
const args = process.argv.slice(2);
const words = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && args[i - 1]!.startsWith('--') && !args[i - 1]!.includes('=')));
const named = words.filter((a) => (PARTS as readonly string[]).includes(a));
const unknown = words.filter((a) => !(PARTS as readonly string[]).includes(a));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark part(s): ${unknown.join(', ')}; parts: ${PARTS.join(', ')}\n`);
  process.exit(2);
}

for (const part of named.length > 0 ? named : PARTS) {
  const url = new URL(`./${part}.ts`, import.meta.url);
  if (!existsSync(url)) {
    process.stdout.write(`== ${part}: skipped (bench/${part}.ts does not exist yet)\n\n`);
    continue;
  }
  process.stdout.write(`== ${part}\n`);
  const mod = (await import(url.href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') {
    process.stderr.write(`bench/${part}.ts exports no run()\n`);
    process.exitCode = 1;
    continue;
  }
  try {
    await mod.run();
  } catch (err) {
    process.stderr.write(`${part} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
  process.stdout.write('\n');
}
