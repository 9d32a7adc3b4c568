import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createChunker, speakableChunks, type ChunkerOptions } from '../src/call/chunker.js';
import { tokenize } from './fakes/openai-server.js';

function run(pieces: Iterable<string>, options?: Partial<ChunkerOptions>): string[] {
  const chunker = createChunker(options);
  const out: string[] = [];
  for (const piece of pieces) out.push(...chunker.push(piece));
  out.push(...chunker.end());
  return out;
}

/** A small deterministic PRNG so a failing split can be reproduced. */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

function randomPieces(text: string, rand: () => number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(rand() * 7);
    pieces.push(text.slice(i, i + n));
    i += n;
  }
  return pieces;
}

/** Every way of feeding the same text must give the same chunks. */
function splits(text: string): [string, string[]][] {
  const out: [string, string[]][] = [
    ['whole', [text]],
    ['char by char', [...text]],
    ['tokens', tokenize(text)],
  ];
  for (let seed = 1; seed <= 5; seed++) out.push([`random pieces #${seed}`, randomPieces(text, random(seed))]);
  for (let at = 1; at < text.length; at++) out.push([`split at ${at}`, [text.slice(0, at), text.slice(at)]]);
  return out;
}

const CASES: { name: string; text: string; chunks: string[]; options?: Partial<ChunkerOptions> }[] = [
  {
    name: 'first chunk ends at the first comma after the minimum length',
    text: 'Здравствуйте, меня зовут Анна, я виртуальный помощник. Чем могу помочь?',
    chunks: ['Здравствуйте, меня зовут Анна,', 'я виртуальный помощник. Чем могу помочь?'],
  },
  {
    name: 'a short first sentence is a chunk of its own; short later sentences are joined',
    text: 'Да. Конечно. Я могу помочь с этим вопросом прямо сейчас. Что именно вас интересует?',
    chunks: ['Да.', 'Конечно. Я могу помочь с этим вопросом прямо сейчас.', 'Что именно вас интересует?'],
  },
  {
    name: 'dates and times are not split; Russian abbreviations before names hold',
    text: 'Встреча назначена на 24.11.2026 в 12:30, приходите вовремя. Адрес: г. Москва, ул. Тверская, д. 7.',
    chunks: ['Встреча назначена на 24.11.2026 в 12:30,', 'приходите вовремя. Адрес: г. Москва, ул. Тверская, д. 7.'],
  },
  {
    name: 'decimals with a dot or a comma are not split',
    text: 'Число пи примерно равно 3.14, или 3,14 по-русски. Запомните это.',
    chunks: ['Число пи примерно равно 3.14,', 'или 3,14 по-русски. Запомните это.'],
  },
  {
    name: 'English abbreviations and a.m. do not end sentences',
    text: 'The price is $3.14, i.e. cheap. Call Dr. Brown at 9 a.m. tomorrow, please. Mrs. Lee, e.g. Your manager, agrees.',
    chunks: ['The price is $3.14, i.e. cheap.', 'Call Dr. Brown at 9 a.m. tomorrow, please.', 'Mrs. Lee, e.g. Your manager, agrees.'],
  },
  {
    name: 'e-mails and URLs stay whole',
    text: 'Напишите нам на support@bank.ru или зайдите на https://bank.ru/help?topic=cards. Мы ответим быстро!',
    chunks: ['Напишите нам на support@bank.ru или зайдите на https://bank.ru/help?topic=cards.', 'Мы ответим быстро!'],
  },
  {
    name: 'initials, т.е., ellipsis and ?! are handled',
    text: 'Это сделал А. С. Пушкин, т.е. великий поэт. Ну… посмотрим. Правда?! Да!',
    chunks: ['Это сделал А. С. Пушкин,', 'т.е. великий поэт. Ну… посмотрим. Правда?!', 'Да!'],
  },
  {
    name: 'etc., т.д. and руб. end a sentence before a capital, not before a lower-case word',
    text: 'Берите яблоки, груши и т.д. и т.п. Цена 500 руб. в месяц. Оплата картой, наличными etc. Thank you.',
    chunks: ['Берите яблоки, груши и т.д. и т.п.', 'Цена 500 руб. в месяц. Оплата картой, наличными etc.', 'Thank you.'],
  },
  {
    name: 'guillemets, dashes and thousands separated by spaces',
    text: '«Хорошо», — сказал он. Цена 1 000 000 руб. Стоп.',
    chunks: ['«Хорошо», — сказал он.', 'Цена 1 000 000 руб. Стоп.'],
  },
  {
    name: 'numbered list markers, bold and code ticks are stripped; lines become sentences',
    text: '1. Откройте приложение\n2. Нажмите **Карты**\n3. Выберите `Блокировка`',
    chunks: ['Откройте приложение', 'Нажмите Карты. Выберите Блокировка'],
  },
  {
    name: 'headings, quotes and bullets are stripped',
    text: '## Итоги\n\nВсё готово, можно идти.\n> цитата тут\n* пункт первый\n- пункт второй',
    chunks: ['Итоги', 'Всё готово, можно идти. цитата тут. пункт первый', 'пункт второй'],
  },
  {
    name: 'emoji are dropped, skin tones and sequences included',
    text: 'Отлично! 😊🎉 Давайте начнём 👍🏽. Готово ✅ 👨‍👩‍👧 🇷🇺',
    chunks: ['Отлично!', 'Давайте начнём. Готово'],
  },
  {
    name: 'links keep their text; underscores inside words survive, emphasis underscores do not',
    text: 'See [our docs](https://ex.com/docs) and ![logo](https://ex.com/l.png) now. File my_file_name.txt or __bold__ text.',
    chunks: ['See our docs and logo now.', 'File my_file_name.txt or bold text.'],
  },
  {
    name: 'a long sentence is split at a clause boundary once it grows long',
    text:
      'Хорошо. Для оформления карты вам понадобится паспорт гражданина Российской Федерации и действующий номер мобильного телефона, ' +
      'а также адрес регистрации, который совпадает с адресом проживания, и примерно десять минут свободного времени.',
    chunks: [
      'Хорошо.',
      'Для оформления карты вам понадобится паспорт гражданина Российской Федерации и действующий номер мобильного телефона, а также адрес регистрации,',
      'который совпадает с адресом проживания, и примерно десять минут свободного времени.',
    ],
  },
  {
    name: 'the maximum length splits at a space when there is no punctuation',
    text: 'один два три четыре пять шесть семь восемь девять десять',
    options: { maxChars: 20 },
    chunks: ['один два три четыре', 'пять шесть семь', 'восемь девять десять'],
  },
  {
    name: 'the maximum length prefers a sentence end, then a clause, to a space',
    text: 'Да, да. Нет, это совсем не так, уважаемый. Конец',
    options: { maxChars: 30, minChars: 100, clauseChars: 100, firstMinChars: 100 },
    chunks: ['Да, да.', 'Нет, это совсем не так,', 'уважаемый. Конец'],
  },
  {
    name: 'a run with no boundary at all is cut hard at the maximum',
    text: `https://example.com/${'a'.repeat(40)} конец.`,
    options: { maxChars: 30 },
    chunks: [`https://example.com/${'a'.repeat(10)}`, `${'a'.repeat(30)}`, 'конец.'],
  },
  {
    name: 'an unfinished text is flushed at the end without punctuation',
    text: 'Подождите минутку',
    chunks: ['Подождите минутку'],
  },
  {
    name: 'a text without anything speakable yields nothing',
    text: '**  ** 😊 ...',
    chunks: [],
  },
];

for (const c of CASES) {
  test(`chunker: ${c.name}`, () => {
    for (const [how, pieces] of splits(c.text)) {
      assert.deepEqual(run(pieces, c.options), c.chunks, `fed ${how}`);
    }
  });
}

test('no chunk is longer than the maximum, and no word is lost or reordered', () => {
  const rand = random(42);
  const words = ['слово', 'word', '3.14', 'т.е.', 'Привет,', 'ok.', 'Да!', 'https://x.ru/a.b', '12:30', '—', 'e.g.', 'длинноеслово'];
  for (let round = 0; round < 200; round++) {
    const n = 5 + Math.floor(rand() * 120);
    const text = Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');
    const maxChars = 20 + Math.floor(rand() * 100);
    const chunks = run(randomPieces(text, rand), { maxChars });
    for (const chunk of chunks) assert.ok(chunk.length <= maxChars, `${chunk.length} > ${maxChars}: ${chunk}`);
    const speakable = (s: string) => s.split(' ').filter((w) => /[\p{L}\p{N}]/u.test(w)).join(' ');
    assert.equal(speakable(chunks.join(' ')), speakable(text));
  }
});

test('speakableChunks emits the first chunk before the stream ends', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  async function* deltas() {
    yield 'Здравствуйте, меня зовут';
    yield ' Анна, я';
    await gate;
    yield ' помощник.';
  }
  const iterator = speakableChunks(deltas())[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.deepEqual(first, { value: 'Здравствуйте, меня зовут Анна,', done: false });
  release();
  assert.deepEqual(await iterator.next(), { value: 'я помощник.', done: false });
  assert.equal((await iterator.next()).done, true);
});

test('a sentence end is confirmed by the next word, not the end of the stream', () => {
  const chunker = createChunker();
  assert.deepEqual(chunker.push('Это стоит 3.'), []);
  assert.deepEqual(chunker.push('14 рубля. Мы'), ['Это стоит 3.14 рубля.']);
  assert.deepEqual(chunker.end(), ['Мы']);
});

test('a comma is confirmed by the space after it', () => {
  const chunker = createChunker({ firstMinChars: 5 });
  assert.deepEqual(chunker.push('Хорошо, '), ['Хорошо,']);
});

test('an invalid maximum is refused clearly', () => {
  assert.throws(() => createChunker({ maxChars: 3 }), /maxChars/);
});

test('the first sentence is cut as soon as its full stop and space arrive, without waiting for the next word', () => {
  const chunker = createChunker();
  assert.deepEqual(chunker.push('Sure, your order ships today. '), ['Sure, your order ships today.']);
  // A later sentence still waits for the next word: it might be an abbreviation's continuation.
  assert.deepEqual(chunker.push('It will arrive before noon on Friday, as planned by the courier. '), []);
  assert.deepEqual(chunker.push('Thanks'), ['It will arrive before noon on Friday, as planned by the courier.']);
  // An abbreviation that only a capital can end keeps the first chunk waiting.
  const rub = createChunker();
  assert.deepEqual(rub.push('Доставка стоит 300 руб. '), []);
  assert.deepEqual(rub.push('в месяц. '), ['Доставка стоит 300 руб. в месяц.']);
});
