import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EnvReader } from '../src/config/env-reader.js';
import { VoicebotError } from '../src/errors.js';
import { readLlmConfig } from '../src/llm/config.js';
import { Conversation } from '../src/llm/conversation.js';
import type { ToolCall } from '../src/llm/llm.js';

function readConfig(env: Record<string, string>) {
  const reader = new EnvReader(env);
  const config = readLlmConfig(reader);
  reader.finish();
  return config;
}

const call = (id: string): ToolCall => ({ id, type: 'function', function: { name: 'transfer', arguments: '{"destination":"x"}' } });

test('the system prompt comes first and stays when the history is trimmed', () => {
  const conversation = new Conversation({ systemPrompt: 'SYS', maxTurns: 2, maxChars: 10_000 });
  for (let i = 1; i <= 5; i++) {
    conversation.addUser(`question ${i}`);
    conversation.addAssistant(`answer ${i}`);
  }
  assert.deepEqual(conversation.messages(), [
    { role: 'system', content: 'SYS' },
    { role: 'user', content: 'question 4' },
    { role: 'assistant', content: 'answer 4' },
    { role: 'user', content: 'question 5' },
    { role: 'assistant', content: 'answer 5' },
  ]);
});

test('the character bound drops the oldest whole exchanges but keeps the latest one', () => {
  const conversation = new Conversation({ systemPrompt: 'SYS', maxTurns: 100, maxChars: 50 });
  conversation.addUser('a'.repeat(20));
  conversation.addAssistant('b'.repeat(20));
  conversation.addUser('c'.repeat(20));
  assert.deepEqual(conversation.messages().map((m) => m.content?.[0]), ['S', 'c']);
  conversation.addAssistant('d'.repeat(100));
  assert.deepEqual(conversation.messages().map((m) => m.content?.[0]), ['S', 'c', 'd']);
});

test('a tool result is never kept without the assistant message that called the tool', () => {
  const conversation = new Conversation({ systemPrompt: 'SYS', maxTurns: 1, maxChars: 10_000 });
  conversation.addUser('connect me');
  conversation.addToolCalls([call('c1')]);
  conversation.addToolResult('c1', 'refused');
  conversation.addAssistant('I cannot');
  conversation.addUser('bye');
  const messages = conversation.messages();
  assert.deepEqual(messages, [
    { role: 'system', content: 'SYS' },
    { role: 'user', content: 'bye' },
  ]);
  for (const [i, message] of messages.entries()) {
    if (message.role === 'tool') assert.equal(messages[i - 1]?.role === 'assistant' || messages[i - 1]?.role === 'tool', true);
  }
});

test('tool calls and results keep the Chat Completions shape', () => {
  const conversation = new Conversation({ systemPrompt: 'SYS', maxTurns: 5, maxChars: 10_000 });
  conversation.addUser('connect me');
  conversation.addToolCalls([call('c1')]);
  conversation.addToolResult('c1', 'done');
  assert.deepEqual(conversation.messages().slice(2), [
    { role: 'assistant', content: null, tool_calls: [call('c1')] },
    { role: 'tool', tool_call_id: 'c1', content: 'done' },
  ]);
});

test('a reply nobody heard adds nothing and the next words join the previous ones', () => {
  const conversation = new Conversation({ systemPrompt: 'SYS', maxTurns: 5, maxChars: 10_000 });
  conversation.addUser('I want');
  conversation.addAssistant('   ');
  conversation.addUser('a pizza');
  conversation.addUser('');
  assert.deepEqual(conversation.messages(), [
    { role: 'system', content: 'SYS' },
    { role: 'user', content: 'I want a pizza' },
  ]);
});

test('a greeting said before the caller spoke is dropped first', () => {
  const conversation = new Conversation({ systemPrompt: 'SYS', maxTurns: 1, maxChars: 10_000 });
  conversation.addAssistant('Hello, how can I help?');
  conversation.addUser('one');
  conversation.addAssistant('two');
  conversation.addUser('three');
  assert.deepEqual(conversation.messages().map((m) => m.content), ['SYS', 'three']);
});

test('the default prompt follows the bot language and mentions transfer only with destinations', () => {
  const ru = readConfig({});
  assert.equal(ru.language, 'ru');
  assert.match(ru.systemPrompt, /по-русски/);
  assert.doesNotMatch(ru.systemPrompt, /transfer/);
  const en = readConfig({ BOT_LANGUAGE: 'en', TRANSFER_DESTINATIONS: 'sales=1001,2002' });
  assert.match(en.systemPrompt, /in English/);
  assert.match(en.systemPrompt, /sales, 2002/);
  assert.deepEqual(en.transferDestinations, [
    { name: 'sales', extension: '1001' },
    { name: '2002', extension: '2002' },
  ]);
});

test('the system prompt is read from SYSTEM_PROMPT_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prompt-'));
  const file = join(dir, 'prompt.txt');
  writeFileSync(file, 'You sell pizza.\n');
  assert.equal(readConfig({ SYSTEM_PROMPT_FILE: file }).systemPrompt, 'You sell pizza.');
  assert.equal(readConfig({ SYSTEM_PROMPT: 'Inline.' }).systemPrompt, 'Inline.');
});

test('the chunker settings come from CHUNK_*', () => {
  assert.equal(readConfig({}).chunker.ambiguousWaitMs, 50);
  assert.deepEqual(readConfig({ CHUNK_FIRST_MIN_CHARS: '10', CHUNK_AMBIGUOUS_WAIT_MS: '0' }).chunker, {
    firstMinChars: 10,
    minChars: 40,
    clauseChars: 120,
    maxChars: 250,
    ambiguousWaitMs: 0,
  });
});

test('bad LLM settings are reported together, each naming its variable', () => {
  assert.throws(
    () =>
      readConfig({
        SYSTEM_PROMPT_FILE: '/nonexistent/prompt.txt',
        BOT_LANGUAGE: 'de',
        TRANSFER_DESTINATIONS: 'sales=,=1001,ok=1 2',
        LLM_TEMPERATURE: 'hot',
        CHUNK_MAX_CHARS: '5',
        CHUNK_AMBIGUOUS_WAIT_MS: '-1',
      }),
    (err: unknown) => {
      assert.ok(err instanceof VoicebotError);
      assert.equal(err.code, 'config_invalid');
      for (const name of ['SYSTEM_PROMPT_FILE', 'BOT_LANGUAGE', 'TRANSFER_DESTINATIONS', 'LLM_TEMPERATURE', 'CHUNK_MAX_CHARS', 'CHUNK_AMBIGUOUS_WAIT_MS']) {
        assert.match(err.message, new RegExp(name));
      }
      assert.match(err.message, /ENOENT/);
      return true;
    },
  );
});
