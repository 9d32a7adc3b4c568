import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';

import { loadAgents } from '../src/agents/load.js';
import type { ResolvedAgents } from '../src/agents/settings.js';
import { watchAgents, type AgentsWatcher } from '../src/agents/watch.js';
import { loadConfig, type Config } from '../src/config.js';
import { createLogger } from '../src/logger.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agents-watch-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Line {
  level: number;
  [field: string]: unknown;
}

/** Log lines as they are written, and a way to wait for one. */
function captureLog() {
  const lines: Line[] = [];
  const waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text === '') continue;
        const line = JSON.parse(text) as Line;
        lines.push(line);
        for (const w of waiters.filter((w) => w.match(line))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
      done();
    },
  });
  return {
    log: createLogger('debug', sink),
    lines,
    next: (match: (l: Line) => boolean, timeoutMs = 10_000) =>
      new Promise<Line>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no such log line in time')), timeoutMs);
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      }),
  };
}

const ERROR = 50;

/** Changes arrive one by one, in order. */
function changes() {
  const queue: { agents: ResolvedAgents; changed: readonly string[] }[] = [];
  const waiters: ((c: (typeof queue)[number]) => void)[] = [];
  return {
    onChange(agents: ResolvedAgents, changed: readonly string[]) {
      const waiter = waiters.shift();
      if (waiter) waiter({ agents, changed });
      else queue.push({ agents, changed });
    },
    next(timeoutMs = 10_000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise<(typeof queue)[number]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reload in time')), timeoutMs);
        waiters.push((c) => (clearTimeout(timer), resolve(c)));
      });
    },
  };
}

/** Writes the way editors save: a new file renamed over the old one. */
async function replace(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${process.hrtime.bigint()}`;
  await writeFile(temp, text);
  await rename(temp, path);
}

const agentsYaml = (prompt: string) => `agents:\n  - name: support\n    prompt: ${JSON.stringify(prompt)}\n  - name: sales\n    language: en\n    promptFile: prompts/sales.txt\n`;

async function setUp(name: string): Promise<{ config: Config; path: string; watcher: AgentsWatcher; log: ReturnType<typeof captureLog>; seen: ReturnType<typeof changes> }> {
  const base = join(dir, name);
  await mkdir(join(base, 'prompts'), { recursive: true });
  await writeFile(join(base, 'prompts', 'sales.txt'), 'You sell.');
  const path = join(base, 'agents.yaml');
  await writeFile(path, agentsYaml('Первая версия.'));
  const config = { ...loadConfig({}), agents: { file: path, contextTimeoutMs: 500, env: {} } };
  const initial = await loadAgents(config);
  const log = captureLog();
  const seen = changes();
  const watcher = watchAgents({ path, initial, load: () => loadAgents(config), onChange: seen.onChange, log: log.log, debounceMs: 50 });
  return { config, path, watcher, log, seen };
}

test('a changed file replaces the agents, naming the ones that changed', async () => {
  const { path, watcher, seen, log } = await setUp('good');
  try {
    const applied = log.next((l) => Array.isArray(l['changed']));
    await replace(path, agentsYaml('Вторая версия.'));
    const { agents, changed } = await seen.next();
    await applied;
    assert.equal(agents.agents.get('support')!.promptTemplate, 'Вторая версия.');
    assert.deepEqual(changed, ['support']);
    assert.equal(watcher.current(), agents);
  } finally {
    watcher.close();
  }
});

test('a bad file keeps the current agents and logs one error listing its problems', async () => {
  const { path, watcher, log, seen } = await setUp('bad');
  const before = watcher.current();
  try {
    const rejected = log.next((l) => l.level >= ERROR);
    await replace(path, 'agents:\n  - name: support\n    promt: typo\n  - name: support\n');
    const line = await rejected;
    assert.equal((line['problems'] as string[]).length, 2);
    assert.equal(watcher.current(), before);

    // A good file after it is applied; by then the bad one has had every chance to log again.
    await replace(path, agentsYaml('Исправлено.'));
    const { agents } = await seen.next();
    assert.equal(agents.agents.get('support')!.promptTemplate, 'Исправлено.');
    assert.equal(log.lines.filter((l) => l.level >= ERROR).length, 1);
  } finally {
    watcher.close();
  }
});

test('SIGHUP reloads, picking up a changed prompt file; close removes the handler', async () => {
  const listeners = process.listenerCount('SIGHUP');
  const { path, watcher, seen } = await setUp('hup');
  assert.equal(process.listenerCount('SIGHUP'), listeners + 1);
  try {
    await writeFile(join(path, '..', 'prompts', 'sales.txt'), 'You sell, politely.');
    process.kill(process.pid, 'SIGHUP');
    const { agents, changed } = await seen.next();
    assert.deepEqual(changed, ['sales']);
    assert.equal(agents.agents.get('sales')!.promptTemplate, 'You sell, politely.');
  } finally {
    watcher.close();
  }
  assert.equal(process.listenerCount('SIGHUP'), listeners);
});

test('an onChange that fails leaves the current agents in place', async () => {
  const { config, path, watcher: first } = await setUp('refused');
  first.close();
  const initial = await loadAgents(config);
  const log = captureLog();
  const watcher = watchAgents({
    path,
    initial,
    load: () => loadAgents(config),
    onChange: () => Promise.reject(new Error('phrases could not be warmed')),
    log: log.log,
    debounceMs: 50,
  });
  try {
    const refused = log.next((l) => l.level >= ERROR);
    await watcher.reload();
    await refused;
    assert.equal(watcher.current(), initial);
  } finally {
    watcher.close();
  }
});
