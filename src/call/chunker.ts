/** Where the speakable chunker cuts a stream of model text, in characters. */
export interface ChunkerOptions {
  /** The first chunk may end at a clause boundary (, ; : —) once it is at least this long. */
  firstMinChars: number;
  /** Later chunks end at a sentence end once they are at least this long (short sentences are joined). */
  minChars: number;
  /** Later chunks also end at a clause boundary once they are at least this long. */
  clauseChars: number;
  /** No chunk is longer than this; a longer run is split at the best boundary below it. */
  maxChars: number;
}

/** Defaults: 250 is the longest text one Yandex UtteranceSynthesis request accepts. */
export const DEFAULT_CHUNKER_OPTIONS: Readonly<ChunkerOptions> = Object.freeze({
  firstMinChars: 20,
  minChars: 40,
  clauseChars: 120,
  maxChars: 250,
});

/** A synchronous chunker: push model deltas, get the chunks that became speakable. */
export interface Chunker {
  push(delta: string): string[];
  /** Ends the stream and returns whatever is left. */
  end(): string[];
}

/**
 * Cuts streamed model text into chunks a TTS can speak: markdown and emoji stripped, the first
 * chunk at the first natural pause, later ones at sentence ends, never inside numbers, dates,
 * times, abbreviations, initials, e-mails or URLs.
 */
export async function* speakableChunks(
  deltas: AsyncIterable<string>,
  options: Partial<ChunkerOptions> = {},
): AsyncGenerator<string> {
  const chunker = createChunker(options);
  for await (const delta of deltas) {
    for (const chunk of chunker.push(delta)) yield chunk;
  }
  for (const chunk of chunker.end()) yield chunk;
}

/** Creates the synchronous chunker behind `speakableChunks`. */
export function createChunker(options: Partial<ChunkerOptions> = {}): Chunker {
  const opts = { ...DEFAULT_CHUNKER_OPTIONS, ...options };
  if (opts.maxChars < 10) throw new RangeError('maxChars must be at least 10');
  const cleaner = new MarkdownCleaner();
  const splitter = new Splitter(opts);
  return {
    push(delta) {
      return splitter.push(cleaner.push(delta), false);
    },
    end() {
      return splitter.push(cleaner.end(), true);
    },
  };
}

const CLAUSE_END = new Set([',', ';', ':']);
const DASHES = new Set(['—', '–', '-']);
const CLOSERS = new Set(['»', '"', '”', '’', "'", ')', ']']);
const OPENERS = /^[«"“„'(\[]+/u;

/** Abbreviations after which a dot never ends a sentence (lower case, inner dots kept). */
const NEVER_END = new Set([
  'т.е', 'т.к', 'т.н', 'т.ч', 'т.о', 'и.о', 'г', 'гг', 'ул', 'д', 'им', 'пр', 'просп', 'пер', 'пл',
  'ш', 'обл', 'кв', 'корп', 'стр', 'тел', 'проф', 'акад', 'доц', 'ген', 'св', 'напр', 'см', 'ср',
  'рис', 'гл', 'п', 'пп', 'ст', 'мкр', 'р-н', 'оф', 'каб', 'вкл', 'искл', 'тов', 'гр', 'зам',
  'mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'sr', 'jr', 'vs', 'e.g', 'i.e', 'cf', 'approx', 'no',
  'nos', 'tel', 'dept', 'fig', 'ave', 'blvd', 'mt', 'ft', 'gen', 'col', 'capt', 'lt', 'sgt',
]);

/** Abbreviations that end a sentence only before a capital: the next word must be seen. */
const CASE_DECIDES = new Set(['т.д', 'т.п', 'руб', 'коп', 'тыс', 'млн', 'млрд', 'др', 'etc', 'a.m', 'p.m', 'inc', 'ltd', 'co']);

const isSpace = (ch: string | undefined): boolean => ch === ' ' || ch === '\n';
const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '9';
const isLower = (ch: string): boolean => ch !== ch.toUpperCase() && ch === ch.toLowerCase();
const isWordChar = (ch: string | undefined): boolean => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
const SPEAKABLE = /[\p{L}\p{N}]/u;

type Verdict = 'sentence' | 'clause' | 'space' | 'none' | 'wait';

/**
 * Finds chunk boundaries in cleaned text. A boundary is only decided at the first whitespace
 * after a punctuation mark: "3.14", "12:30", "24.11.2026", "a.b@c.d" and URLs never have one, so
 * they are never split. A dot or an ellipsis also needs the next non-space character: a lower-case
 * letter after it means an abbreviation or a pause inside the sentence ("т.е. так", "Ну... да").
 * Models send the space together with the next word (" Мы"), so the lookahead costs no extra
 * delta in practice. Each character is scanned once; after a cut only the short remainder is.
 */
class Splitter {
  readonly #opts: ChunkerOptions;
  #buf = '';
  #scan = 0;
  #sentence = -1;
  #clause = -1;
  #space = -1;
  #emitted = 0;

  constructor(opts: ChunkerOptions) {
    this.#opts = opts;
  }

  push(text: string, ended: boolean): string[] {
    const out: string[] = [];
    if (this.#buf === '') text = text.replace(/^\s+/, '');
    this.#buf += text;
    for (;;) {
      const cut = this.#findCut(ended);
      if (cut < 0) break;
      this.#emit(cut, out);
    }
    if (ended) {
      this.#emit(this.#buf.length, out);
      this.#buf = '';
    }
    return out;
  }

  /** Scans new characters; returns the end of the next chunk, or -1 when none is ready. */
  #findCut(ended: boolean): number {
    const buf = this.#buf;
    const first = this.#emitted === 0;
    const { firstMinChars, minChars, clauseChars, maxChars } = this.#opts;
    while (this.#scan < buf.length) {
      const i = this.#scan;
      if (i > maxChars) return this.#bestCutBelowMax();
      const ch = buf[i]!;
      if (isSpace(ch) && i > 0) {
        const verdict: Verdict = ch === '\n' ? 'sentence' : isSpace(buf[i - 1]) ? 'none' : this.#judge(i, ended || first);
        if (verdict === 'wait') return -1;
        const end = lastNonSpace(buf, i);
        if (verdict === 'sentence' && end > 0) {
          this.#sentence = end;
          this.#scan = i + 1;
          if (first || end >= minChars) return end;
          continue;
        }
        if (verdict === 'clause') {
          this.#clause = end;
          this.#scan = i + 1;
          if (end >= (first ? firstMinChars : clauseChars)) return end;
          continue;
        }
        if (verdict === 'space' && !(isDigit(buf[i - 1]) && isDigit(buf[i + 1]))) this.#space = end;
      }
      this.#scan = i + 1;
    }
    return ended && buf.length > maxChars ? this.#bestCutBelowMax() : -1;
  }

  /**
   * Classifies the first whitespace at `i` by the punctuation before it. `decideNow` (the stream
   * ended, or the first chunk, whose every millisecond the caller waits for) judges a full stop
   * by what precedes it instead of waiting for the next word to show its case.
   */
  #judge(i: number, decideNow: boolean): Verdict {
    const buf = this.#buf;
    let j = i - 1;
    while (j > 0 && CLOSERS.has(buf[j]!)) j--;
    const mark = buf[j]!;
    if (mark === '!' || mark === '?') return 'sentence';
    if (CLAUSE_END.has(mark)) return 'clause';
    if (DASHES.has(mark)) return j > 0 && buf[j - 1] === ' ' ? 'clause' : 'space';
    if (mark !== '.' && mark !== '…') return 'space';
    let k = i;
    while (k < buf.length && isSpace(buf[k])) k++;
    if (k >= buf.length && (!decideNow || (mark === '.' && CASE_DECIDES.has(wordBefore(buf, j))))) return 'wait';
    const next = buf[k];
    if (next !== undefined && isLower(next)) return mark === '…' || buf[j - 1] === '.' ? 'clause' : 'space';
    if (mark === '.' && buf[j - 1] !== '.' && isAbbreviation(buf, j)) return 'space';
    return 'sentence';
  }

  #bestCutBelowMax(): number {
    const limit = this.#opts.maxChars;
    for (const at of [this.#sentence, this.#clause, this.#space]) {
      if (at > 0 && at <= limit) return at;
    }
    // No boundary at all (a very long URL): cut hard, but not between the halves of a surrogate pair.
    const code = this.#buf.charCodeAt(limit - 1);
    return code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
  }

  #emit(end: number, out: string[]): void {
    const chunk = normalize(this.#buf.slice(0, end));
    this.#buf = this.#buf.slice(end).replace(/^\s+/, '');
    this.#scan = 0;
    this.#sentence = this.#clause = this.#space = -1;
    if (SPEAKABLE.test(chunk)) {
      out.push(chunk);
      this.#emitted++;
    }
  }
}

function lastNonSpace(buf: string, i: number): number {
  let end = i;
  while (end > 0 && isSpace(buf[end - 1])) end--;
  return end;
}

/** True when the dot at `dot` ends an initial ("А.") or a known abbreviation ("ул.", "e.g."). */
function isAbbreviation(buf: string, dot: number): boolean {
  const word = wordBefore(buf, dot);
  if (word.length === 1 && /\p{L}/u.test(word)) return true;
  return NEVER_END.has(word);
}

/** The word that ends at the dot at `dot`, lower case, inner dots kept, openers dropped. */
function wordBefore(buf: string, dot: number): string {
  let start = dot;
  while (start > 0 && !isSpace(buf[start - 1]) && dot - start < 16) start--;
  return buf.slice(start, dot).replace(OPENERS, '').toLowerCase();
}

/** Newlines become sentence pauses; whitespace runs collapse to one space. */
function normalize(text: string): string {
  return text
    .replace(/([\p{L}\p{N}])[ ]*\n\s*/gu, '$1. ')
    .replace(/\s+/g, ' ')
    .replace(/ ([.,!?;:…])/g, '$1')
    .trim();
}

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|[\u200d\ufe0e\ufe0f\u20e3])$/u;
const LIST_MARKER = /^(?:#{1,6}|>|[-*+•]|\d{1,3}[.)])(?= )/;
const LINK_LIMIT = 300;

/**
 * Removes what a TTS would read aloud but a listener should not hear: markdown emphasis, code
 * ticks, headings, quotes and list bullets at line starts, link targets, emoji. Holds back only
 * the few characters a decision needs (a line start, "![", "_", an unfinished link).
 */
class MarkdownCleaner {
  #pending = '';
  #lineStart = true;
  #prev = '';

  push(delta: string): string {
    this.#pending += delta;
    return this.#run(false);
  }

  end(): string {
    return this.#run(true);
  }

  #run(ended: boolean): string {
    const s = this.#pending;
    let out = '';
    let i = 0;
    while (i < s.length) {
      const ch = s[i]!;
      if (this.#lineStart) {
        if (ch === ' ' || ch === '\t') {
          i++;
          continue;
        }
        const head = s.slice(i, i + 5);
        const marker = LIST_MARKER.exec(head);
        if (marker) {
          i += marker[0].length + 1;
          this.#lineStart = false;
          continue;
        }
        if (!ended && head.length < 5 && !head.includes('\n') && /^(?:#{1,6}|>|[-*+•]|\d{1,3}[.)]?)$/.test(head)) break;
        if (ch !== '\n') this.#lineStart = false;
      }
      const code = s.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdbff && i + 1 >= s.length && !ended) break;
      const cp = String.fromCodePoint(s.codePointAt(i)!);
      if (EMOJI.test(cp)) {
        i += cp.length;
        continue;
      }
      if (ch === '*' || ch === '`') {
        i++;
        continue;
      }
      if (ch === '_') {
        let j = i;
        while (j < s.length && s[j] === '_') j++;
        if (j >= s.length && !ended) break;
        if (!(isWordChar(this.#prev) && isWordChar(s[j]))) {
          i = j;
          continue;
        }
        out += s.slice(i, j);
        i = j;
        continue;
      }
      if (ch === '!' && s[i + 1] === undefined && !ended) break;
      if (ch === '[' || (ch === '!' && s[i + 1] === '[')) {
        const open = ch === '[' ? i : i + 1;
        const link = readLink(s, open, ended);
        if (link === 'wait') break;
        if (link) {
          out += link.text;
          this.#prev = link.text.at(-1) ?? this.#prev;
          i = link.end;
          continue;
        }
      }
      if (ch === '\t' || ch === '\r') {
        out += ' ';
        this.#prev = ' ';
        i++;
        continue;
      }
      if (ch === '\n') this.#lineStart = true;
      out += cp;
      this.#prev = ch;
      i += cp.length;
    }
    this.#pending = s.slice(i);
    return out;
  }
}

/** `[text](url)` → text; null when `[` does not start a link; 'wait' while it may still. */
function readLink(s: string, open: number, ended: boolean): { text: string; end: number } | null | 'wait' {
  const close = s.indexOf(']', open + 1);
  if (close < 0) {
    const rest = s.slice(open + 1);
    return !ended && rest.length < LINK_LIMIT && !rest.includes('\n') ? 'wait' : null;
  }
  const text = s.slice(open + 1, close);
  if (text.includes('\n')) return null;
  if (close + 1 >= s.length) return ended ? { text, end: close + 1 } : 'wait';
  if (s[close + 1] !== '(') return { text, end: close + 1 };
  const paren = s.indexOf(')', close + 2);
  if (paren < 0) {
    const rest = s.slice(close + 2);
    if (!ended && rest.length < LINK_LIMIT && !/\s/.test(rest)) return 'wait';
    return { text, end: close + 1 };
  }
  return { text, end: paren + 1 };
}
