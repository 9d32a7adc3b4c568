import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createChunker, speakableChunks, type ChunkerOptions } from '../src/llm/chunker.js';
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

/** When each chunk leaves: the index of the token whose push returned it, or 'end'. */
type Timed = [number | 'end', string];

function timed(tokens: readonly string[], options?: Partial<ChunkerOptions>): Timed[] {
  const chunker = createChunker(options);
  const out: Timed[] = [];
  tokens.forEach((token, i) => out.push(...chunker.push(token).map((c): Timed => [i, c])));
  out.push(...chunker.end().map((c): Timed => ['end', c]));
  return out;
}

// Tokens as BPE models stream them: the space before a word travels with it, punctuation alone.
const TOKEN_CASES: { name: string; tokens: string[]; out: Timed[] }[] = [
  {
    name: 'a Russian first sentence leaves on its full stop',
    tokens: ['Ваш', ' заказ', ' №', '123', '45', ' готов', '.', ' Одну', ' минуту'],
    out: [[6, 'Ваш заказ №12345 готов.'], ['end', 'Одну минуту']],
  },
  {
    name: 'an English first sentence leaves on its full stop; later ones wait for the next word',
    tokens: ['Sure', ',', ' your', ' order', ' ships', ' today', '.', ' It', ' will', ' arrive', ' tomorrow', ' before', ' noon', ' on', ' Friday', '.', ' Thanks'],
    out: [[6, 'Sure, your order ships today.'], [16, 'It will arrive tomorrow before noon on Friday.'], ['end', 'Thanks']],
  },
  {
    name: 'the first chunk leaves on the comma that makes it long enough',
    tokens: ['Здравствуйте', ',', ' меня', ' зовут', ' Анна', ',', ' я', ' помощник', '.'],
    out: [[5, 'Здравствуйте, меня зовут Анна,'], ['end', 'я помощник.']],
  },
  {
    name: '"Mr." and initials never end the first sentence',
    tokens: ['Mr', '.', ' Smith', ' will', ' call', ' A', '.', ' Lee', '.', ' Bye'],
    out: [[8, 'Mr. Smith will call A. Lee.'], ['end', 'Bye']],
  },
  {
    name: 'т.е. fed letter by letter is no sentence end',
    tokens: ['т', '.', 'е', '.', ' завтра'],
    out: [['end', 'т.е. завтра']],
  },
  {
    name: 'a number before the full stop waits for the next token: a decimal',
    tokens: ['It', ' costs', ' 3', '.', '5', ' dollars', '.', ' Bye'],
    out: [[6, 'It costs 3.5 dollars.'], ['end', 'Bye']],
  },
  {
    name: 'a number before the full stop waits for the next token: a sentence end',
    tokens: ['Your', ' number', ' is', ' 45', '.', ' Thanks'],
    out: [[5, 'Your number is 45.'], ['end', 'Thanks']],
  },
  {
    name: 'a decimal comma holds the first chunk at its clause length',
    tokens: ['Ставка', ' по', ' вкладу', ' составит', ' 3', ',', '5', ' процента', '.'],
    out: [[8, 'Ставка по вкладу составит 3,5 процента.']],
  },
  {
    name: 'a time with a colon is whole at its full stop; one with a dot waits',
    tokens: ['Meet', ' at', ' 10', ':', '30', '.', ' Bye'],
    out: [[5, 'Meet at 10:30.'], ['end', 'Bye']],
  },
  {
    name: 'a time with a dot waits for the next token',
    tokens: ['Встреча', ' в', ' 10', '.', '30', '.', ' Ок'],
    out: [[6, 'Встреча в 10.30.'], ['end', 'Ок']],
  },
  {
    name: 'an e-mail is not cut at its dots',
    tokens: ['Write', ' to', ' info', '@', 'example', '.', 'com', '.', ' Bye'],
    out: [[8, 'Write to info@example.com.'], ['end', 'Bye']],
  },
  {
    name: 'a host name after "visit" is not cut at its dot',
    tokens: ['Visit', ' example', '.', 'com', ' today', '.', ' Bye'],
    out: [[5, 'Visit example.com today.'], ['end', 'Bye']],
  },
  {
    name: 'a Latin host name in Russian text is not cut at its dot',
    tokens: ['Зайдите', ' на', ' bank', '.', 'ru', ' сегодня', '.', ' Ок'],
    out: [[6, 'Зайдите на bank.ru сегодня.'], ['end', 'Ок']],
  },
  {
    name: 'a URL keeps its question mark and dots',
    tokens: ['Откройте', ' https', ':', '//', 'bank', '.', 'ru', '/', 'help', '?', 'topic', '=', 'cards', '.', ' Мы'],
    out: [[14, 'Откройте https://bank.ru/help?topic=cards.'], ['end', 'Мы']],
  },
  {
    name: 'руб. and etc. wait for the case of the next word',
    tokens: ['Цена', ' 500', ' руб', '.', ' в', ' месяц', '.', ' Ок'],
    out: [[6, 'Цена 500 руб. в месяц.'], ['end', 'Ок']],
  },
  {
    name: 'etc. before a capital ends the first sentence on the capital',
    tokens: ['Apples', ',', ' pears', ' etc', '.', ' Thank', ' you', '.'],
    out: [[5, 'Apples, pears etc.'], ['end', 'Thank you.']],
  },
  {
    name: 'a short first chunk ending in "..." waits for the next word; a pause keeps the sentence going',
    tokens: ['Ну', '...', ' посмотрим', ',', ' что', ' можно', ' сделать', '.', ' Ок'],
    out: [[7, 'Ну... посмотрим, что можно сделать.'], ['end', 'Ок']],
  },
  {
    name: 'a long enough first chunk leaves on its ellipsis',
    tokens: ['Дайте', ' мне', ' подумать', ' немного', '…', ' Да'],
    out: [[4, 'Дайте мне подумать немного…'], ['end', 'Да']],
  },
  {
    name: 'a short ellipsis before a capital is a sentence end',
    tokens: ['Хм', '…', ' Да', ',', ' конечно', '.'],
    out: [[2, 'Хм…'], ['end', 'Да, конечно.']],
  },
  {
    name: '"?!" in one token',
    tokens: ['Правда', '?!', ' Да', '.'],
    out: [[1, 'Правда?!'], ['end', 'Да.']],
  },
  {
    name: '"?" and "!" in two tokens: the cut is on "?", the "!" belongs to it and is not spoken again',
    tokens: ['Правда', '?', '!', ' Да', '.'],
    out: [[1, 'Правда?'], ['end', 'Да.']],
  },
  {
    name: 'a closing quote in the token of the full stop',
    tokens: ['He', ' said', ' "', 'yes', '."', ' Then', ' he', ' left', '.'],
    out: [[4, 'He said "yes."'], ['end', 'Then he left.']],
  },
  {
    name: 'a closing quote after the full stop belongs to the sentence already cut',
    tokens: ['He', ' said', ' "', 'yes', '.', '"', ' "', 'Fine', '"', ' he', ' left', '.'],
    out: [[4, 'He said "yes.'], ['end', '"Fine" he left.']],
  },
  {
    name: 'a closing bracket after the full stop',
    tokens: ['(', 'Call', ' us', ' today', '.)', ' We', ' answer', '.'],
    out: [[4, '(Call us today.)'], ['end', 'We answer.']],
  },
  {
    name: 'guillemets before the full stop',
    tokens: ['Он', ' сказал', ':', ' «', 'Готово', '».', ' Потом'],
    out: [[5, 'Он сказал: «Готово».'], ['end', 'Потом']],
  },
  {
    name: 'an exclamation after a word leaves at once',
    tokens: ['Отлично', '!', ' Давайте', ' начнём', '.'],
    out: [[1, 'Отлично!'], ['end', 'Давайте начнём.']],
  },
];

for (const c of TOKEN_CASES) {
  test(`chunker, BPE tokens: ${c.name}`, () => {
    assert.deepEqual(timed(c.tokens), c.out);
  });
}

/** A delta source the test feeds by hand; `starved` resolves once the chunker waits for a delta that is not there. */
function handFed() {
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let onStarved: (() => void) | undefined;
  let ended = false;
  let failure: Error | undefined;
  let returned = false;
  const deltas: AsyncIterable<string> = {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<string>> {
        while (queue.length === 0 && !ended && failure === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            onStarved?.();
          });
        }
        if (failure !== undefined) throw failure;
        const value = queue.shift();
        return value === undefined ? { value: undefined, done: true } : { value, done: false };
      },
      async return(): Promise<IteratorResult<string>> {
        returned = true;
        return { value: undefined, done: true };
      },
    }),
  };
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    deltas,
    feed(...tokens: string[]) {
      queue.push(...tokens);
      poke();
    },
    end() {
      ended = true;
      poke();
    },
    fail(err: Error) {
      failure = err;
      poke();
    },
    starved: () => new Promise<void>((resolve) => (wake !== undefined ? resolve() : (onStarved = resolve))),
    get returned() {
      return returned;
    },
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test('speakableChunks yields the first sentence on its full stop, before the next token exists', async () => {
  const source = handFed();
  const chunks = speakableChunks(source.deltas, { ambiguousWaitMs: 60_000 })[Symbol.asyncIterator]();
  source.feed('Ваш', ' заказ', ' №', '123', '45', ' готов', '.');
  assert.deepEqual(await within(chunks.next(), 2000, 'first chunk'), { value: 'Ваш заказ №12345 готов.', done: false });
  source.feed(' Одну', ' минуту');
  source.end();
  assert.deepEqual(await chunks.next(), { value: 'Одну минуту', done: false });
  assert.equal((await chunks.next()).done, true);
});

test('speakableChunks lets the next token decide an ambiguous first chunk when it comes in time', async () => {
  const source = handFed();
  const chunks = speakableChunks(source.deltas, { ambiguousWaitMs: 60_000 })[Symbol.asyncIterator]();
  const first = chunks.next();
  source.feed('It', ' costs', ' 3', '.');
  await source.starved();
  source.feed('5', ' dollars', '.');
  assert.deepEqual(await within(first, 2000, 'first chunk'), { value: 'It costs 3.5 dollars.', done: false });
  source.end();
  assert.equal((await chunks.next()).done, true);
});

test('speakableChunks cuts an ambiguous first chunk after the configured wait when no token comes', async () => {
  const source = handFed();
  const chunks = speakableChunks(source.deltas, { ambiguousWaitMs: 40 })[Symbol.asyncIterator]();
  const first = chunks.next();
  source.feed('It', ' costs', ' 3', '.');
  await source.starved();
  const t0 = performance.now();
  // Nothing ever follows the full stop: only the wait can release the chunk.
  assert.deepEqual(await within(first, 10_000, 'first chunk'), { value: 'It costs 3.', done: false });
  const waited = performance.now() - t0;
  assert.ok(waited >= 35, `waited ${waited.toFixed(1)} ms`);
  source.feed(' Thanks', '.');
  source.end();
  assert.deepEqual(await chunks.next(), { value: 'Thanks.', done: false });
  assert.equal((await chunks.next()).done, true);
});

test('speakableChunks passes a source failure during the wait on, and a consumer can leave mid-wait', async () => {
  const failing = handFed();
  const chunks = speakableChunks(failing.deltas, { ambiguousWaitMs: 60_000 })[Symbol.asyncIterator]();
  const first = chunks.next();
  failing.feed('It', ' costs', ' 3', '.');
  await failing.starved();
  failing.fail(new Error('stream cut'));
  await assert.rejects(within(first, 2000, 'failure'), /stream cut/);

  const left = handFed();
  const more = speakableChunks(left.deltas, { ambiguousWaitMs: 10 })[Symbol.asyncIterator]();
  left.feed('It', ' costs', ' 3', '.');
  assert.deepEqual(await within(more.next(), 2000, 'settled chunk'), { value: 'It costs 3.', done: false });
  assert.deepEqual(await within(more.return(undefined), 2000, 'return'), { value: undefined, done: true });
  assert.equal(left.returned, true);
});
