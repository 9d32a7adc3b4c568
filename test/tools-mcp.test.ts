import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { parseMcpServerDeclarations, type McpServerEntry } from '../src/tools/mcp-declarations.js';
import { createMcpPool, type McpPool } from '../src/tools/mcp-pool.js';
import { createToolbox, type Toolbox } from '../src/tools/toolbox.js';
import { startFakeMcp, type FakeMcp } from './fakes/mcp-server.js';
import { captureLog, WARN } from './support/log-capture.js';

const TOKEN = 'mcp-secret-81c2f0aa93';
let fake: FakeMcp;
before(async () => {
  fake = await startFakeMcp();
});
after(() => fake.close());

const live = () => new AbortController().signal;

// Whatever a test opened is closed even when it fails: a live session or child process would keep the run from ending.
const opened: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close().catch(() => {});
});

/** `close`, run at most once, and run after the test if the test did not. */
function closedAfter(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const once = () => (closing ??= close());
  opened.push(once);
  return once;
}

async function mcpServer(): Promise<FakeMcp> {
  const server = await startFakeMcp();
  opened.push(() => server.close());
  return server;
}

function servers(entries: McpServerEntry[]) {
  const { servers, problems } = parseMcpServerDeclarations(entries, { MCP_TOKEN: TOKEN });
  assert.deepEqual(problems, []);
  return servers;
}

function ordersServer(extra: Partial<McpServerEntry> = {}): McpServerEntry {
  return { name: 'orders', url: fake.url, headers: { Authorization: 'Bearer ${env:MCP_TOKEN}' }, allowTools: ['order_status', 'slow_lookup'], ...extra };
}

function toolbox(entries: McpServerEntry[], options: { pool?: McpPool; deniedOrigins?: string[] } = {}) {
  const capture = captureLog();
  const pool = options.pool ?? createMcpPool({ log: capture.log, connectTimeoutMs: 2000, reconnect: { baseDelayMs: 50, maxDelayMs: 200 } });
  const box: Toolbox = createToolbox({
    http: [],
    mcp: servers(entries),
    allowHosts: ['127.0.0.1'],
    deniedOrigins: options.deniedOrigins,
    log: capture.log,
    mcpPool: pool,
    reservedNames: ['hang_up'],
  });
  return { box, capture, close: closedAfter(async () => (await box.close(), await pool.close())) };
}

async function names(box: Toolbox): Promise<string[]> {
  return (await box.definitions()).map((d) => d.function.name).sort();
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('an MCP server\'s allowed tools are offered, and a call goes through with its secret header', async () => {
  const { box, capture, close } = toolbox([ordersServer({ prefix: 'shop_' })]);
  const definitions = await box.definitions();
  assert.deepEqual(definitions.map((d) => d.function.name).sort(), ['shop_order_status', 'shop_slow_lookup']);
  const status = definitions.find((d) => d.function.name === 'shop_order_status')!;
  assert.equal(status.function.description, 'Status of an order by its number.');
  assert.deepEqual((status.function.parameters as { required?: string[] }).required, ['order_id']);

  const result = await box.run('shop_order_status', '{"order_id":"1001"}', live());
  assert.equal(result.outcome, 'ok');
  assert.equal(result.content, 'Заказ 1001: в пути, доставка завтра.');
  assert.ok(fake.headers.some((h) => h.authorization === `Bearer ${TOKEN}`));

  const missing = await box.run('shop_order_status', '{"order_id":"77"}', live());
  assert.equal(missing.outcome, 'tool_error');
  assert.match(missing.content, /не найден/);

  const calls = fake.calls.length;
  assert.equal((await box.run('shop_order_status', '{"order_id":"x1"}', live())).outcome, 'invalid_arguments');
  assert.equal((await box.run('delete_everything', '{}', live())).outcome, 'unknown_tool');
  assert.equal((await box.run('shop_delete_everything', '{}', live())).outcome, 'unknown_tool');
  assert.equal(fake.calls.length, calls, 'a refused call reached the server');
  assert.ok(!capture.raw().includes(TOKEN) && !JSON.stringify(definitions).includes(TOKEN));
  await close();
});

test('a caller hang-up cancels the MCP call at the server', async () => {
  const { box, close } = toolbox([ordersServer()]);
  await box.definitions();
  const controller = new AbortController();
  const pending = box.run('slow_lookup', '{}', controller.signal);
  await waitFor(() => fake.calls.some((c) => c.name === 'slow_lookup' && !c.cancelled));
  controller.abort();
  assert.equal((await pending).outcome, 'aborted');
  await fake.waitForCancelled('slow_lookup');
  await close();
});

test('toolboxes of agents that share a server share one session', async () => {
  const capture = captureLog();
  const pool = createMcpPool({ log: capture.log });
  const closePool = closedAfter(() => pool.close());
  const sessions = () => fake.headers.filter((h) => h['mcp-session-id'] === undefined).length;
  const before = sessions();
  const first = toolbox([ordersServer()], { pool });
  const second = toolbox([ordersServer({ allowTools: ['order_status'] })], { pool });
  assert.deepEqual(await names(first.box), ['order_status', 'slow_lookup']);
  assert.deepEqual(await names(second.box), ['order_status']);
  assert.equal((await second.box.run('order_status', '{"order_id":"1002"}', live())).outcome, 'ok');
  assert.equal(sessions() - before, 1);
  await first.box.close();
  assert.equal((await second.box.run('order_status', '{"order_id":"1002"}', live())).outcome, 'ok');
  await second.box.close();
  await closePool();
});

test('a server that goes away leaves the turn with one warning; when it comes back its tools return', async () => {
  const server = await mcpServer();
  const { box, capture, close } = toolbox([ordersServer({ url: server.url })]);
  assert.deepEqual(await names(box), ['order_status', 'slow_lookup']);
  const warnings = () => capture.records.filter((r) => r.level === WARN && r.mcpServer === 'orders').length;

  await server.close();
  await waitFor(async () => (await names(box)).length === 0);
  for (let i = 0; i < 3; i++) {
    const result = await box.run('order_status', '{"order_id":"1001"}', live());
    assert.equal(result.outcome, 'unavailable');
    assert.equal(result.ok, false);
    assert.deepEqual(await names(box), []);
  }
  assert.equal(warnings(), 1);

  await server.restart();
  await waitFor(async () => (await names(box)).length === 2);
  assert.equal((await box.run('order_status', '{"order_id":"1002"}', live())).content, 'Заказ 1002: доставлен.');
  assert.equal(warnings(), 1);
  await close();
  await server.close();
});

test('a server that is down from the start is left out with one warning and joins once it is up', async () => {
  const server = await mcpServer();
  await server.close();
  const { box, capture, close } = toolbox([ordersServer({ url: server.url })]);
  assert.deepEqual(await names(box), []);
  assert.equal((await box.run('order_status', '{"order_id":"1001"}', live())).outcome, 'unknown_tool');
  await server.restart();
  await waitFor(async () => (await names(box)).length === 2);
  assert.equal(capture.records.filter((r) => r.level === WARN && r.mcpServer === 'orders').length, 1);
  await close();
  await server.close();
});

test('a tool the server adds is offered after its list-changed notice', async () => {
  const server = await mcpServer();
  const { box, close } = toolbox([ordersServer({ url: server.url, allowTools: ['*'] })]);
  assert.deepEqual(await names(box), ['delete_everything', 'order_status', 'slow_lookup']);
  server.addTool('track_parcel', 'Посылка в Москве.');
  await waitFor(async () => (await names(box)).includes('track_parcel'));
  assert.equal((await box.run('track_parcel', '{}', live())).content, 'Посылка в Москве.');
  await close();
  await server.close();
});

test('an MCP server at one of the server\'s own endpoints is never contacted', async () => {
  const count = fake.headers.length;
  const { box, close } = toolbox([ordersServer()], { deniedOrigins: [`127.0.0.1:${fake.port}`] });
  assert.deepEqual(await names(box), []);
  assert.equal(fake.headers.length, count);
  await close();
});

test('a stdio MCP server is spawned, called, and spawned again after it exits', async () => {
  const script = new URL('./fakes/mcp-stdio-server.ts', import.meta.url).pathname;
  const cwd = new URL('..', import.meta.url).pathname;
  // A node process compiling TypeScript takes seconds to answer on a loaded machine.
  const capture = captureLog();
  const pool = createMcpPool({ log: capture.log, connectTimeoutMs: 30_000, reconnect: { baseDelayMs: 50, maxDelayMs: 200 } });
  const { box, close } = toolbox(
    [{ name: 'local', command: process.execPath, args: ['--import', 'tsx', script], cwd, allowTools: ['echo', 'quit'], timeoutMs: 10_000 }],
    { pool },
  );
  await waitFor(async () => (await names(box)).length === 2, 60_000);
  const first = await box.run('echo', '{"text":"привет"}', live());
  assert.equal(first.outcome, 'ok');
  assert.match(first.content, /^echo: привет \(pid \d+\)$/);

  assert.equal((await box.run('quit', '{}', live())).outcome, 'unavailable');
  await waitFor(async () => (await names(box)).length === 2, 60_000);
  const second = await box.run('echo', '{"text":"снова"}', live());
  assert.equal(second.outcome, 'ok');
  assert.notEqual(second.content.match(/pid (\d+)/)![1], first.content.match(/pid (\d+)/)![1]);
  // One warning for the exit; a loaded machine may also time out the first respawn (a second one).
  const warnings = capture.records.filter((r) => r.level === WARN && r.mcpServer === 'local').length;
  assert.ok(warnings >= 1 && warnings <= 2, `${warnings} warnings`);
  await close();
});
