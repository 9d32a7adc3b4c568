import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { allowHostProblem, createHostPolicy } from '../src/tools/host-policy.js';
import { parseToolDeclarations } from '../src/tools/http-declarations.js';
import { parseMcpServerDeclarations } from '../src/tools/mcp-declarations.js';

const SECRET = 'tok-3f9a1c77d2';
const env = { ORDERS_URL: 'https://orders.example/api', ORDERS_TOKEN: SECRET };
const params = { type: 'object', properties: { order_id: { type: 'string' }, note: { type: 'string' } }, required: ['order_id'] };

test('an HTTP tool entry is validated, given its defaults, and keeps its secrets out of any printout', () => {
  const { tools, problems } = parseToolDeclarations(
    [{ name: 'order_status', description: 'Order status.', parameters: params, url: '${env:ORDERS_URL}/orders/{order_id}', headers: { Authorization: 'Bearer ${env:ORDERS_TOKEN}' } }],
    env,
  );
  assert.deepEqual(problems, []);
  const [tool] = tools;
  assert.equal(tool!.method, 'GET');
  assert.equal(tool!.timeoutMs, 5000);
  assert.equal(tool!.maxChars, 2000);
  assert.equal(tool!.maxBytes, 256 * 1024);
  assert.equal(tool!.allowInternal, false);
  assert.equal(tool!.fields, undefined);
  assert.ok(tool!.url[0] !== undefined && 'secret' in tool!.url[0]);
  assert.deepEqual(tool!.url.slice(1), [{ text: '/orders/' }, { param: 'order_id' }]);
  for (const printed of [JSON.stringify(tools), inspect(tools, { depth: 10 }), String(tool!.secrets[0])]) {
    assert.ok(!printed.includes(SECRET), printed);
    assert.ok(!printed.includes('orders.example'), printed);
  }
});

test('every problem of a tools section is reported with its path', () => {
  const { tools, problems } = parseToolDeclarations(
    [
      { name: 'ok_tool', description: 'Fine.', url: 'https://a.example/x' },
      { name: 'has space', description: 'x', url: 'https://a.example/x' },
      { name: 'hang_up', description: 'x', url: 'https://a.example/x' },
      { name: 'ok_tool', description: 'x', url: 'https://a.example/x' },
      { name: 'needs_env', description: 'x', url: '${env:NOT_SET}/x', headers: { 'X-Key': '${env:ALSO_NOT_SET}' } },
      { name: 'bad_placeholders', description: 'x', parameters: params, url: 'https://a.example/{nope}/{note}' },
      { name: 'get_body', description: 'x', url: 'https://a.example/x', body: 'arguments' },
      { name: 'bad_schema', description: 'x', parameters: { type: 'object', properties: { a: { type: 'strin' } } }, url: 'https://a.example/x' },
      { name: 'not_object', description: 'x', parameters: { type: 'string' }, url: 'https://a.example/x' },
      { name: 'bad_header', description: 'x', url: 'https://a.example/x', headers: { 'Bad Name': 'v' } },
      { name: 'bad_scheme', description: 'x', url: 'ftp://a.example/x', timeoutMs: 10, extra: true },
      { name: 'odd_ref', description: 'x', url: 'https://a.example/${ORDERS_TOKEN}' },
    ],
    env,
    { reservedNames: ['hang_up', 'transfer'] },
  );
  assert.deepEqual(tools.map((t) => t.name), ['ok_tool']);
  const at = (path: string) => problems.filter((p) => p.path === path).map((p) => p.message);
  assert.equal(at('[1].name').length, 1);
  assert.match(at('[2].name')[0]!, /built-in/);
  assert.match(at('[3].name')[0]!, /already declared/);
  assert.deepEqual(at('[4].url'), ['environment variable NOT_SET is not set']);
  assert.deepEqual(at('[4].headers.X-Key'), ['environment variable ALSO_NOT_SET is not set']);
  assert.equal(at('[5].url').length, 2, 'an undeclared placeholder and an optional one in the path');
  assert.match(at('[6].body')[0]!, /GET/);
  assert.match(at('[7].parameters')[0]!, /not a valid JSON Schema/);
  assert.match(at('[8].parameters')[0]!, /"object"/);
  assert.match(at('[9].headers.Bad Name')[0]!, /header name/);
  assert.equal(at('[10].timeoutMs').length, 1);
  assert.equal(problems.filter((p) => p.path.startsWith('[10]')).length, 2, 'the unknown key too; the scheme after the shape is fine');
  assert.match(at('[11].url')[0]!, /\$\{env:NAME\}/);
  assert.ok(!JSON.stringify(problems).includes(SECRET));

  assert.deepEqual(parseToolDeclarations({ name: 'x' }, env).problems, [{ path: '', message: 'expected a list of tools' }]);
  assert.deepEqual(parseToolDeclarations(undefined, env), { tools: [], problems: [] });
});

test('an MCP server entry takes a URL or a command, an allow list, and resolves its secrets', () => {
  const { servers, problems } = parseMcpServerDeclarations(
    [
      { name: 'crm', url: 'https://crm.example/mcp', headers: { Authorization: 'Bearer ${env:ORDERS_TOKEN}' }, allowTools: ['find_customer'], prefix: 'crm_' },
      { name: 'local', command: 'node', args: ['server.js', '--token=${env:ORDERS_TOKEN}'], allowTools: ['*'] },
      { name: 'both', url: 'https://x.example/mcp', command: 'node', allowTools: ['*'] },
      { name: 'no_list', url: 'https://x.example/mcp' },
      { name: 'bad_env', url: '${env:MCP_URL}', allowTools: ['*'] },
      { name: 'crm', url: 'https://crm.example/mcp', allowTools: ['a'] },
    ],
    env,
  );
  assert.deepEqual(servers.map((s) => s.name), ['crm', 'local']);
  assert.deepEqual(servers[0]!.transport.reveal(), { kind: 'http', url: 'https://crm.example/mcp', headers: { Authorization: `Bearer ${SECRET}` } });
  assert.equal(servers[0]!.url!.reveal().host, 'crm.example');
  assert.deepEqual(servers[1]!.transport.reveal(), { kind: 'stdio', command: 'node', args: ['server.js', `--token=${SECRET}`], env: {}, cwd: undefined });
  assert.ok(!JSON.stringify(servers).includes(SECRET) && !inspect(servers, { depth: 10 }).includes(SECRET));
  assert.deepEqual(problems.map((p) => p.path), ['[2]', '[3].allowTools', '[4].url', '[5].name']);
});

test('the host policy matches exact hosts, ports and subdomains, and denies the server\'s own endpoints by any local name', () => {
  const policy = createHostPolicy(['orders.example', '*.crm.example', '127.0.0.1:4000', 'localhost'], ['http://asterisk.local:8088', '0.0.0.0:8080', '127.0.0.1:4000']);
  const refused = (url: string, allowInternal = false) => policy.refusal(new URL(url), allowInternal) !== undefined;
  assert.equal(refused('https://orders.example/api/1'), false);
  assert.equal(refused('https://ORDERS.example:8443/api/1'), false);
  assert.equal(refused('https://evil.orders.example/'), true);
  assert.equal(refused('https://eu.crm.example/x'), false);
  assert.equal(refused('https://crm.example/x'), true);
  assert.equal(refused('https://orders.example.evil.com/'), true);
  assert.equal(refused('ftp://orders.example/'), true);
  assert.equal(refused('https://user:pw@orders.example/'), true);
  assert.equal(refused('http://127.0.0.1:4001/'), true, 'another port of an exact host:port');
  assert.equal(refused('http://127.0.0.1:4000/'), true, 'denied');
  assert.equal(refused('http://127.0.0.1:4000/', true), false, 'allowInternal');
  assert.equal(refused('http://localhost:8080/metrics'), true, 'own HTTP port by loopback name');
  assert.equal(refused('http://localhost:3000/'), false);

  assert.equal(allowHostProblem('*.example.com'), undefined);
  assert.equal(allowHostProblem('[::1]:8080'), undefined);
  for (const bad of ['', 'https://x.example/', 'a@b', '*.', 'x*.example']) assert.notEqual(allowHostProblem(bad), undefined, bad);
  assert.throws(() => createHostPolicy(['https://x.example/']), /allowHosts/);
});
