import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse } from 'yaml';
import { startOrderApi } from '../examples/order-api.js';
import { parseToolDeclarations } from '../src/tools/http-declarations.js';
import { createToolbox } from '../src/tools/toolbox.js';
import { captureLog } from './support/log-capture.js';

test('the example order agent answers from the example order API', async () => {
  const api = await startOrderApi({ token: 'demo-token-123' });
  const agent = parse(await readFile(new URL('../examples/orders-agent.yaml', import.meta.url), 'utf8'));
  assert.deepEqual(parseToolDeclarations(agent.tools, { ORDER_API_URL: api.url }).problems, [
    { path: '[0].headers.Authorization', message: 'environment variable ORDER_API_TOKEN is not set' },
  ]);
  const { tools, problems } = parseToolDeclarations(agent.tools, { ORDER_API_URL: api.url, ORDER_API_TOKEN: 'demo-token-123' });
  assert.deepEqual(problems, []);
  const capture = captureLog();
  const box = createToolbox({ http: tools, mcp: [], allowHosts: agent.allowHosts, log: capture.log });
  const signal = new AbortController().signal;

  const found = await box.run('order_status', '{"order_id":"1001"}', signal);
  assert.equal(found.outcome, 'ok');
  assert.deepEqual(JSON.parse(found.content), { status: 'в пути', eta: 'завтра до 18:00', items: [{ name: 'чайник', quantity: 1 }] });
  const unknown = await box.run('order_status', '{"order_id":"999"}', signal);
  assert.equal(unknown.outcome, 'http_error');
  assert.match(unknown.content, /заказ не найден/);
  assert.equal((await box.run('order_status', '{"order_id":"двадцать"}', signal)).outcome, 'invalid_arguments');
  assert.ok(!capture.raw().includes('demo-token-123'));
  await box.close();
  await api.close();
});
