import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

test('the README documents every environment variable the configuration reads', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const names = new Set<string>();
  for (const file of await sources(join(root, 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/\b(?:env|reader)\.(?:string|int|number|bool|oneOf|list|url|optionalString|has|raw)\('([A-Z][A-Z0-9_]+)'/g)) names.add(m[1]!);
  }
  assert.ok(names.size > 50, `only ${names.size} variables found: the scan is broken`);
  const missing = [...names].filter((name) => !readme.includes(`\`${name}\``)).sort();
  assert.deepEqual(missing, [], `variables missing from the README: ${missing.join(', ')}`);
});

test('the README gives the set-up, run and test commands that CI runs', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const ci = await readFile(join(root, '.ci/run'), 'utf8');
  for (const command of ['npm ci', 'npm start', 'npm test']) assert.ok(readme.includes(command), `README lacks ${command}`);
  for (const command of ['npm ci', 'npm test']) assert.ok(ci.includes(command), `.ci/run lacks ${command}`);
});
