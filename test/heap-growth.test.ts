import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { EnvReader } from '../src/config/env-reader.js';
import { readOpsConfig } from '../src/metrics/config.js';
import { applyHeapGrowth } from '../src/ops/heap-growth.js';

test("GC_HEAP_GROWTH_PERCENT defaults to 100; 0 keeps V8's own heuristic; out of range is a config problem", () => {
  assert.equal(readOpsConfig(new EnvReader({})).heapGrowthPercent, 100);
  assert.equal(readOpsConfig(new EnvReader({ GC_HEAP_GROWTH_PERCENT: '0' })).heapGrowthPercent, 0);
  assert.equal(readOpsConfig(new EnvReader({ GC_HEAP_GROWTH_PERCENT: '250' })).heapGrowthPercent, 250);
  for (const value of ['-5', '401', 'lots', '1.5']) {
    const reader = new EnvReader({ GC_HEAP_GROWTH_PERCENT: value });
    readOpsConfig(reader);
    assert.throws(() => reader.finish(), /GC_HEAP_GROWTH_PERCENT/, value);
  }
});

test('the growth is handed to V8 as its heap-growing flag, and 0 hands over nothing', () => {
  const set: string[] = [];
  applyHeapGrowth(100, (flags) => set.push(flags));
  applyHeapGrowth(0, (flags) => set.push(flags));
  assert.deepEqual(set, ['--heap-growing-percent=100']);
  assert.throws(() => applyHeapGrowth(-1, () => {}), RangeError);
});

test('this Node knows the flag (V8 would ignore an unknown one at run time, the command line refuses it)', () => {
  const known = spawnSync(process.execPath, ['--heap-growing-percent=100', '-e', '0'], { env: {}, encoding: 'utf8' });
  assert.equal(known.status, 0, known.stderr);
  const unknown = spawnSync(process.execPath, ['--heap-growing-percentage=100', '-e', '0'], { env: {}, encoding: 'utf8' });
  assert.notEqual(unknown.status, 0, 'a misspelt V8 flag must be refused, or the check above proves nothing');
});
