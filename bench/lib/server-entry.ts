/**
 * How the benchmarks run the real entry. `--entry build` (the default) compiles `src/` with tsc
 * once per benchmark run and starts `dist/src/main.js`, as the container does; `--entry source`
 * starts `src/main.ts` through tsx, as `npm start` does. tsx serves each module with its exports
 * behind getters, so every call across modules on the media path costs a little more.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));

export type Entry = 'build' | 'source';

/** The `--entry` of this benchmark run (`--entry source`, `--entry=build`); `build` when not given. */
export function entryOfArgs(args: readonly string[] = process.argv.slice(2)): Entry {
  let value: string | undefined;
  args.forEach((a, i) => {
    if (a === '--entry') value = args[i + 1];
    else if (a.startsWith('--entry=')) value = a.slice('--entry='.length);
  });
  if (value === undefined) return 'build';
  if (value !== 'build' && value !== 'source') throw new Error(`--entry takes build or source, got ${value}`);
  return value;
}

let built: Promise<void> | undefined;

/** Compiles `src/` into `dist/` (tsconfig.build.json), once per process. */
function buildOnce(): Promise<void> {
  built ??= promisify(execFile)(process.execPath, [join(REPO_DIR, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO_DIR }).then(
    () => undefined,
    (err: Error & { stdout?: string }) => {
      throw new Error(`tsc -p tsconfig.build.json failed: ${err.stdout?.trim() || err.message}`);
    },
  );
  return built;
}

/** Node arguments that run the real entry the way this benchmark run asks (after any Node flags). */
export async function serverEntryArgs(entry: Entry = entryOfArgs()): Promise<string[]> {
  if (entry === 'source') return ['--import', 'tsx', 'src/main.ts'];
  await buildOnce();
  return ['dist/src/main.js'];
}
