import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseToolDeclarations, type HttpToolEntry } from '../src/tools/http-declarations.js';
import { createToolbox, type Toolbox, type ToolboxOptions } from '../src/tools/toolbox.js';
import { json, startFakeApi, type FakeApi } from './fakes/http-api.js';
import { captureLog } from './support/log-capture.js';

const TOKEN = 'sk-order-secret-7f3a9c2e';
let api: FakeApi;
before(async () => {
  api = await startFakeApi();
});
after(() => api.close());

const orderParams = {
  type: 'object',
  properties: { order_id: { type: 'string', pattern: '^[0-9A-Za-z /-]{1,20}$' }, lang: { type: 'string', enum: ['ru', 'en'] } },
  required: ['order_id'],
  additionalProperties: false,
};

function orderTool(extra: Partial<HttpToolEntry> = {}): HttpToolEntry {
  return {
    name: 'order_status',
    description: 'Status of an order by its number.',
    parameters: orderParams,
    url: '${env:ORDER_API_URL}/orders/{order_id}',
    query: { lang: '{lang}', source: 'voice' },
    headers: { Authorization: 'Bearer ${env:ORDER_API_TOKEN}' },
    ...extra,
  };
}

function toolbox(entries: HttpToolEntry[], options: Partial<ToolboxOptions> = {}) {
  const { tools, problems } = parseToolDeclarations(entries, { ORDER_API_URL: api.origin, ORDER_API_TOKEN: TOKEN });
  assert.deepEqual(problems, []);
  const capture = captureLog();
  const box: Toolbox = createToolbox({ http: tools, mcp: [], allowHosts: ['127.0.0.1'], log: capture.log, ...options });
  return { box, capture };
}

const live = () => new AbortController().signal;

test('an HTTP tool fills its URL template, sends its secret header and gives the model the selected fields', async () => {
  api.setHandler((_req, res) => json(res, 200, { id: 'A 7/1', status: 'в пути', eta: 'завтра', customer: { phone: '+79990001122' }, items: [{ name: 'чайник' }] }));
  const { box, capture } = toolbox([orderTool({ response: { fields: ['status', 'eta', 'items.0.name', 'missing.path'] } })]);
  const before = api.requests.length;
  const result = await box.run('order_status', JSON.stringify({ order_id: 'A 7/1', lang: 'ru' }), live());
  assert.equal(result.outcome, 'ok');
  assert.equal(result.ok, true);
  assert.deepEqual(JSON.parse(result.content), { status: 'в пути', eta: 'завтра', 'items.0.name': 'чайник' });
  const request = api.requests[before]!;
  assert.equal(request.method, 'GET');
  assert.equal(request.url, '/orders/A%207%2F1?lang=ru&source=voice');
  assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
  assert.ok(result.durationMs >= 0);

  const definitions = await box.definitions();
  assert.deepEqual(definitions, [{ type: 'function', function: { name: 'order_status', description: 'Status of an order by its number.', parameters: orderParams } }]);
  const seenByModel = JSON.stringify(definitions) + result.content;
  assert.ok(!seenByModel.includes(TOKEN) && !seenByModel.includes(api.origin));
  assert.ok(!capture.raw().includes(TOKEN), 'the secret is in a log line');
  const line = capture.records.find((r) => r.tool === 'order_status' && r.outcome === 'ok')!;
  assert.equal(line.level, 30);
  assert.equal(typeof line.durationMs, 'number');
  assert.ok(capture.records.filter((r) => r.level === 30).every((r) => r.arguments === undefined), 'arguments logged above debug');
  await box.close();
});

test('an optional argument left out drops its query parameter', async () => {
  const { box } = toolbox([orderTool()]);
  const before = api.requests.length;
  await box.run('order_status', '{"order_id":"42"}', live());
  assert.equal(api.requests[before]!.url, '/orders/42?source=voice');
});

test('an answer that echoes the secret reaches the model with the secret scrubbed', async () => {
  api.setHandler((req, res) => json(res, 200, { seen: req.headers.authorization }));
  const { box, capture } = toolbox([orderTool()]);
  const result = await box.run('order_status', '{"order_id":"1"}', live());
  assert.equal(result.outcome, 'ok');
  assert.ok(!result.content.includes(TOKEN));
  assert.match(result.content, /\[redacted\]/);
  assert.ok(!capture.raw().includes(TOKEN));
});

test('a long answer is cut to maxChars and marked as cut', async () => {
  api.setHandler((_req, res) => json(res, 200, { list: Array.from({ length: 500 }, (_, i) => ({ n: i, name: 'позиция' })) }));
  const { box } = toolbox([orderTool({ response: { maxChars: 200 } })]);
  const result = await box.run('order_status', '{"order_id":"1"}', live());
  assert.equal(result.outcome, 'ok');
  assert.ok(result.content.length <= 200, `${result.content.length} characters`);
  assert.ok(result.content.startsWith('{"list":[{"n":0,'));
  assert.match(result.content, /truncated\]$/);
});

test('a POST tool sends its JSON body template, or the arguments themselves', async () => {
  api.setHandler((_req, res) => json(res, 201, { created: true }));
  const params = { type: 'object', properties: { phone: { type: 'string' }, minutes: { type: 'integer' }, note: { type: 'string' } }, required: ['phone', 'minutes'] };
  const { box } = toolbox([
    { name: 'callback', description: 'Book a call back.', parameters: params, method: 'post', url: '${env:ORDER_API_URL}/callbacks', body: { to: '{phone}', in: { minutes: '{minutes}' }, text: 'Note: {note}', token: '${env:ORDER_API_TOKEN}' } },
    { name: 'callback_raw', description: 'Book a call back.', parameters: params, method: 'PUT', url: '${env:ORDER_API_URL}/callbacks', body: 'arguments' },
  ]);
  const before = api.requests.length;
  const first = await box.run('callback', '{"phone":"+7 999","minutes":"15"}', live());
  assert.equal(first.outcome, 'ok');
  assert.equal(first.content, '{"created":true}');
  const sent = api.requests[before]!;
  assert.equal(sent.method, 'POST');
  assert.equal(sent.headers['content-type'], 'application/json');
  // The integer came as a string and was coerced by the schema; the absent note leaves its text out.
  assert.deepEqual(JSON.parse(sent.body), { to: '+7 999', in: { minutes: 15 }, token: TOKEN });
  await box.run('callback_raw', '{"phone":"+7 999","minutes":5,"note":"после обеда"}', live());
  assert.equal(api.requests[before + 1]!.method, 'PUT');
  assert.deepEqual(JSON.parse(api.requests[before + 1]!.body), { phone: '+7 999', minutes: 5, note: 'после обеда' });
});

test('arguments that do not fit the schema give an error result and no request', async () => {
  const { box } = toolbox([orderTool()]);
  const before = api.requests.length;
  for (const args of ['{"order_id":"12;DROP"}', '{"lang":"ru"}', '{"order_id":"1","extra":true}', 'not json', '[1]']) {
    const result = await box.run('order_status', args, live());
    assert.equal(result.outcome, 'invalid_arguments', args);
    assert.equal(result.ok, false);
    assert.match(result.content, /^Invalid arguments: /);
  }
  assert.equal(api.requests.length, before);
});

test('an error status is an error result with the service\'s own words', async () => {
  api.setHandler((_req, res) => json(res, 404, { error: 'заказ не найден' }));
  const { box, capture } = toolbox([orderTool()]);
  const result = await box.run('order_status', '{"order_id":"9"}', live());
  assert.equal(result.outcome, 'http_error');
  assert.equal(result.ok, false);
  assert.match(result.content, /404/);
  assert.match(result.content, /заказ не найден/);
  const line = capture.records.find((r) => r.tool === 'order_status' && r.outcome !== undefined)!;
  assert.equal(line.status, 404);
  assert.equal(line.outcome, 'http_error');
});

test('a service that does not answer in time gives a timeout result and the request is dropped', async () => {
  api.setHandler(() => {});
  const { box } = toolbox([orderTool({ timeoutMs: 300 })]);
  const aborted = api.requests.filter((r) => r.aborted).length;
  const result = await box.run('order_status', '{"order_id":"1"}', live());
  assert.equal(result.outcome, 'timeout');
  assert.ok(result.durationMs >= 250 && result.durationMs < 3000, `${result.durationMs} ms`);
  await api.waitForAborted(aborted + 1);
});

test('an answer over maxBytes is not read: too large, by its length or as it streams', async () => {
  const { box } = toolbox([orderTool({ response: { maxBytes: 4096 } })]);
  api.setHandler((_req, res) => json(res, 200, { blob: 'x'.repeat(10_000) }));
  assert.equal((await box.run('order_status', '{"order_id":"1"}', live())).outcome, 'too_large');

  const aborted = api.requests.filter((r) => r.aborted).length;
  api.setHandler((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"blob":"');
    const timer = setInterval(() => res.write('y'.repeat(1024)), 5);
    res.on('close', () => clearInterval(timer));
  });
  const result = await box.run('order_status', '{"order_id":"1"}', live());
  assert.equal(result.outcome, 'too_large');
  assert.equal(result.ok, false);
  await api.waitForAborted(aborted + 1);
});

test('a caller hang-up aborts the request on the wire', async () => {
  api.setHandler(() => {});
  const { box } = toolbox([orderTool()]);
  const aborted = api.requests.filter((r) => r.aborted).length;
  const count = api.requests.length;
  const controller = new AbortController();
  const pending = box.run('order_status', '{"order_id":"1"}', controller.signal);
  await waitFor(() => api.requests.length > count);
  controller.abort();
  const result = await pending;
  assert.equal(result.outcome, 'aborted');
  await api.waitForAborted(aborted + 1);

  const before = api.requests.length;
  assert.equal((await box.run('order_status', '{"order_id":"1"}', controller.signal)).outcome, 'aborted');
  assert.equal(api.requests.length, before, 'a request was made after the abort');
});

test('a host outside the allow list or one of the server\'s own endpoints is refused without a request', async () => {
  api.setHandler((_req, res) => json(res, 200, { ok: true }));
  const before = api.requests.length;
  const hostParams = { type: 'object', properties: { host: { type: 'string' } }, required: ['host'] };
  const dynamic: HttpToolEntry = { name: 'lookup', description: 'Look up.', parameters: hostParams, url: `http://{host}:${api.port}/x` };

  const other = toolbox([dynamic]);
  const result = await other.box.run('lookup', '{"host":"localhost"}', live());
  assert.equal(result.outcome, 'refused');
  assert.ok(!result.content.includes('localhost'));

  // The server's HTTP port bound to every address: the tool may not reach it by any local name.
  const internal = toolbox([orderTool(), dynamic], { allowHosts: ['127.0.0.1', 'localhost'], deniedOrigins: [`0.0.0.0:${api.port}`] });
  assert.deepEqual((await internal.box.definitions()).map((d) => d.function.name), ['lookup']);
  assert.equal((await internal.box.run('lookup', '{"host":"localhost"}', live())).outcome, 'refused');
  assert.equal((await internal.box.run('order_status', '{"order_id":"1"}', live())).outcome, 'unknown_tool');
  assert.equal(api.requests.length, before);

  const allowed = toolbox([orderTool({ allowInternal: true })], { deniedOrigins: [api.origin] });
  assert.equal((await allowed.box.run('order_status', '{"order_id":"1"}', live())).outcome, 'ok');
  assert.equal(api.requests.length, before + 1);
});

test('redirects are followed within the origin only', async () => {
  api.setHandler((req, res) => {
    if (req.url.startsWith('/orders/local')) res.writeHead(302, { location: '/moved/1' }).end();
    else if (req.url.startsWith('/orders/away')) res.writeHead(307, { location: `http://localhost:${api.port}/moved/1` }).end();
    else json(res, 200, { moved: true });
  });
  const { box } = toolbox([orderTool()], { allowHosts: ['127.0.0.1', 'localhost'] });
  const before = api.requests.length;
  assert.equal((await box.run('order_status', '{"order_id":"local"}', live())).content, '{"moved":true}');
  assert.equal(api.requests.length, before + 2);
  assert.equal((await box.run('order_status', '{"order_id":"away"}', live())).outcome, 'refused');
  assert.equal(api.requests.length, before + 3);
});

test('a service that cannot be reached gives an unavailable result; an unknown tool is named as such', async () => {
  const gone = await startFakeApi();
  await gone.close();
  const { tools } = parseToolDeclarations([orderTool()], { ORDER_API_URL: gone.origin, ORDER_API_TOKEN: TOKEN });
  const box = createToolbox({ http: tools, mcp: [], allowHosts: ['127.0.0.1'], log: captureLog().log });
  const result = await box.run('order_status', '{"order_id":"1"}', live());
  assert.equal(result.outcome, 'unavailable');
  assert.equal(result.ok, false);
  const unknown = await box.run('delete_orders', '{}', live());
  assert.equal(unknown.outcome, 'unknown_tool');
  assert.match(unknown.content, /delete_orders/);
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
