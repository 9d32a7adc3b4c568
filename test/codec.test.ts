import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { pcmToUlaw, ulawToPcm } from '../src/audio/mulaw.js';
import {
  decodeMessage,
  encodeAudio,
  encodeMessage,
  HANGUP_MESSAGE,
  Kind,
  kindForRate,
  MessageReader,
  type Message,
} from '../src/audiosocket/codec.js';
import { VoicebotError } from '../src/errors.js';

const UUID = '4f1c2a9e-0b7d-4e55-9a61-3c2f8e7d6b10';

function sample(): Message[] {
  const messages: Message[] = [
    { type: 'uuid', id: UUID },
    { type: 'dtmf', digit: '5' },
    { type: 'dtmf', digit: '#' },
    { type: 'error', code: 3 },
    { type: 'error', code: undefined },
  ];
  for (const kind of [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]) {
    const payload = Buffer.alloc(kind === 0x10 ? 320 : 64);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + kind) & 0xff;
    messages.push({ type: 'audio', kind, payload });
  }
  messages.push({ type: 'hangup' });
  return messages;
}

function isProtocolError(err: unknown): boolean {
  return err instanceof VoicebotError && err.code === 'protocol_error';
}

function captureUrl(name: string): URL {
  return new URL(`../../shared/captures/${name}`, import.meta.url);
}

describe('codec', () => {
  test('every kind survives encode then decode', () => {
    for (const message of sample()) {
      const wire = encodeMessage(message);
      const reader = new MessageReader();
      assert.deepEqual(reader.push(wire), [message]);
      assert.equal(reader.buffered, 0);
    }
  });

  test('the header is kind then big-endian length', () => {
    const wire = encodeAudio(Kind.Slin16k, Buffer.alloc(640));
    assert.equal(wire[0], 0x12);
    assert.equal(wire.readUInt16BE(1), 640);
    assert.equal(wire.length, 643);
    assert.deepEqual([...HANGUP_MESSAGE], [0, 0, 0]);
  });

  test('audio kinds map to their sample rates', () => {
    assert.equal(kindForRate(8000), 0x10);
    assert.equal(kindForRate(16000), 0x12);
    assert.equal(kindForRate(44100), 0x15);
    assert.equal(kindForRate(192000), 0x18);
    assert.equal(kindForRate(11025), undefined);
  });

  test('the server-side encoder refuses non-audio kinds and empty payloads', () => {
    assert.throws(() => encodeAudio(Kind.Uuid, Buffer.alloc(16)), isProtocolError);
    assert.throws(() => encodeAudio(Kind.Dtmf, Buffer.alloc(1)), isProtocolError);
    assert.throws(() => encodeAudio(Kind.Error, Buffer.alloc(1)), isProtocolError);
    assert.throws(() => encodeAudio(0x42, Buffer.alloc(320)), isProtocolError);
    assert.throws(() => encodeAudio(Kind.Slin8k, Buffer.alloc(0)), isProtocolError);
    assert.throws(() => encodeAudio(Kind.Slin8k, Buffer.alloc(70000)), RangeError);
  });

  test('malformed payloads are protocol errors', () => {
    assert.throws(() => decodeMessage(Kind.Uuid, Buffer.alloc(15)), isProtocolError);
    assert.throws(() => decodeMessage(Kind.Dtmf, Buffer.from('x')), isProtocolError);
    assert.throws(() => decodeMessage(Kind.Dtmf, Buffer.from('12')), isProtocolError);
    assert.throws(() => decodeMessage(Kind.Slin8k, Buffer.alloc(0)), isProtocolError);
    assert.throws(() => decodeMessage(0x02, Buffer.alloc(1)), isProtocolError);
    assert.throws(() => encodeMessage({ type: 'uuid', id: 'not-a-uuid' }), isProtocolError);
  });

  test('a message split at every byte position is read once, whole', () => {
    const stream = Buffer.concat(sample().map(encodeMessage));
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new MessageReader();
      const got = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      assert.deepEqual(got, sample(), `split at ${cut}`);
      assert.equal(reader.buffered, 0);
    }
  });

  test('several messages in one chunk are all returned in order', () => {
    const reader = new MessageReader();
    assert.deepEqual(reader.push(Buffer.concat(sample().map(encodeMessage))), sample());
  });

  test('an unknown kind fails at once, without waiting for its payload', () => {
    assert.throws(() => new MessageReader().push(Buffer.from([0x42])), /unknown message kind 0x42/);
    const reader = new MessageReader();
    assert.deepEqual(reader.push(Buffer.from([0x10])), []);
    assert.throws(() => reader.push(Buffer.from([0x00, 0x02, 1, 2, 0x02])), /unknown message kind 0x02/);
  });

  test('a length over the limit fails before the payload arrives', () => {
    const reader = new MessageReader(1000);
    assert.throws(() => reader.push(Buffer.from([0x10, 0xff, 0xff])), /exceeds the limit/);
  });

  test('after a failure the reader keeps failing', () => {
    const reader = new MessageReader();
    assert.throws(() => reader.push(Buffer.from([0x77, 0, 0])), isProtocolError);
    assert.throws(() => reader.push(encodeMessage({ type: 'hangup' })), isProtocolError);
  });

  test('the reader copies audio out of the chunk', () => {
    const chunk = encodeAudio(Kind.Slin8k, Buffer.alloc(320, 1));
    const [message] = new MessageReader().push(chunk);
    chunk.fill(9);
    assert.equal(message?.type, 'audio');
    assert.equal((message as { payload: Buffer }).payload[0], 1);
  });
});

describe('real Asterisk captures', () => {
  for (const name of ['app-8k-dtmf', 'dial-slin16', 'dial-ulaw']) {
    const bin = readFileSync(captureUrl(`${name}.bin`));
    const meta = JSON.parse(readFileSync(captureUrl(`${name}.json`), 'utf8')) as {
      messages: number;
      messagesTiming: [number, number, number][];
    };
    const expected = meta.messagesTiming.map(([, kind, length]) => [kind, length]);

    const summarize = (messages: Message[]): number[][] =>
      messages.map((m) => {
        switch (m.type) {
          case 'uuid':
            return [Kind.Uuid, 16];
          case 'dtmf':
            return [Kind.Dtmf, 1];
          case 'audio':
            return [m.kind, m.payload.length];
          case 'hangup':
            return [Kind.Hangup, 0];
          case 'error':
            return [Kind.Error, m.code === undefined ? 0 : 1];
        }
      });

    test(`${name}: replayed at once, every message matches the recorded kinds and lengths`, () => {
      const messages = new MessageReader().push(bin);
      assert.equal(messages.length, meta.messages);
      assert.deepEqual(summarize(messages), expected);
      assert.equal(messages[0]?.type, 'uuid');
    });

    test(`${name}: replayed byte by byte, the same messages come out`, () => {
      const reader = new MessageReader();
      const messages: Message[] = [];
      for (let i = 0; i < bin.length; i++) messages.push(...reader.push(bin.subarray(i, i + 1)));
      assert.deepEqual(summarize(messages), expected);
      assert.equal(reader.buffered, 0);
    });
  }

  test('the app capture carries the DTMF digits 123#* then 9', () => {
    const messages = new MessageReader().push(readFileSync(captureUrl('app-8k-dtmf.bin')));
    const digits = messages.flatMap((m) => (m.type === 'dtmf' ? [m.digit] : [])).join('');
    assert.equal(digits, '123#*9');
  });
});

describe('μ-law', () => {
  test('decode then encode gives back every μ-law byte (0x7f aside, which aliases 0xff)', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const again = pcmToUlaw(ulawToPcm(all));
    for (let i = 0; i < 256; i++) {
      if (i === 0x7f) continue;
      assert.equal(again[i], i, `byte 0x${i.toString(16)}`);
    }
  });

  test('encode then decode stays within the segment step of the input', () => {
    const pcm = Buffer.alloc(2 * 2001);
    for (let i = 0; i <= 2000; i++) pcm.writeInt16LE(Math.round(-32000 + i * 32), i * 2);
    const back = ulawToPcm(pcmToUlaw(pcm));
    for (let i = 0; i <= 2000; i++) {
      const a = pcm.readInt16LE(i * 2);
      const b = back.readInt16LE(i * 2);
      assert.ok(Math.abs(a - b) <= Math.max(8, Math.abs(a) / 16), `${a} -> ${b}`);
    }
  });

  test('silence encodes to 0xff and decodes to zero', () => {
    assert.equal(pcmToUlaw(Buffer.alloc(2))[0], 0xff);
    assert.equal(ulawToPcm(Buffer.of(0xff)).readInt16LE(0), 0);
  });
});
