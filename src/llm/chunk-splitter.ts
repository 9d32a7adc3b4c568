import {
  CASE_DECIDES,
  CLAUSE_END,
  CLOSERS,
  DASHES,
  isAbbreviation,
  isDigit,
  isLower,
  isSpace,
  tailVerdict,
  wordBefore,
} from './chunk-boundaries.js';

/** Where chunks may end, in characters (see `ChunkerOptions`). */
export interface SplitLimits {
  firstMinChars: number;
  minChars: number;
  clauseChars: number;
  maxChars: number;
}

const SPEAKABLE = /[\p{L}\p{N}]/u;
/** What a cut at a mark leaves at the start of the next delta and what still belongs to the mark. */
const MARK_TAIL = /^[.!?…»"”’')\]]+/u;

type Verdict = 'sentence' | 'clause' | 'space' | 'none' | 'wait';

/**
 * Finds chunk boundaries in cleaned text. Inside the text a boundary is only decided at the first
 * whitespace after a punctuation mark: "3.14", "12:30", "24.11.2026", "a.b@c.d" and URLs never have
 * one, so they are never split. A later chunk's dot or ellipsis also needs the next non-space
 * character: a lower-case letter after it means an abbreviation or a pause inside the sentence
 * ("т.е. так", "Ну... да"). The first chunk, which the caller waits for, is cut at the mark itself
 * when nothing can continue it (`tailVerdict`); when something may, the cut is held for the next
 * delta or for `settle`. Each character is scanned once; after a cut only the short remainder is.
 */
export class Splitter {
  readonly #limits: SplitLimits;
  #buf = '';
  #scan = 0;
  #sentence = -1;
  #clause = -1;
  #space = -1;
  #emitted = 0;
  /** End of the first chunk while its cut waits on what comes next; -1 when none does. */
  #held = -1;
  /** The last cut was at a mark that ended the text: closers and marks that follow belong to it. */
  #afterMark = false;

  constructor(limits: SplitLimits) {
    this.#limits = limits;
  }

  /** True while the first chunk's cut waits on the next delta (a number, an address, "руб."). */
  get holding(): boolean {
    return this.#held >= 0;
  }

  push(text: string, ended: boolean): string[] {
    const out: string[] = [];
    this.#held = -1;
    if (this.#buf === '') text = this.#trimStart(text);
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

  /** Cuts the held first chunk as if nothing followed it, and goes on with the rest. */
  settle(): string[] {
    const end = this.#held;
    if (end < 0) return [];
    const out: string[] = [];
    this.#afterMark = end === this.#buf.length;
    this.#emit(end, out);
    return [...out, ...this.push('', false)];
  }

  #trimStart(text: string): string {
    if (this.#afterMark && text !== '') {
      text = text.replace(MARK_TAIL, '');
      this.#afterMark = text === '';
    }
    return text.replace(/^\s+/, '');
  }

  /** Scans new characters; returns the end of the next chunk, or -1 when none is ready. */
  #findCut(ended: boolean): number {
    const buf = this.#buf;
    const first = this.#emitted === 0;
    const { firstMinChars, minChars, clauseChars, maxChars } = this.#limits;
    while (this.#scan < buf.length) {
      const i = this.#scan;
      if (i > maxChars) return this.#bestCutBelowMax();
      const ch = buf[i]!;
      if (isSpace(ch) && i > 0) {
        const verdict: Verdict = ch === '\n' ? 'sentence' : isSpace(buf[i - 1]) ? 'none' : this.#judge(i, ended || first);
        const end = lastNonSpace(buf, i);
        if (verdict === 'wait') {
          if (first && !ended) this.#held = end;
          return -1;
        }
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
    if (first && !ended && buf.length > 0 && buf.length <= maxChars) {
      const tail = tailVerdict(buf, firstMinChars);
      if (tail === 'cut') {
        this.#afterMark = true;
        return buf.length;
      }
      if (tail === 'hold') this.#held = buf.length;
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
    const limit = this.#limits.maxChars;
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
    this.#held = -1;
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

/** Newlines become sentence pauses; whitespace runs collapse to one space. */
function normalize(text: string): string {
  return text
    .replace(/([\p{L}\p{N}])[ ]*\n\s*/gu, '$1. ')
    .replace(/\s+/g, ' ')
    .replace(/ ([.,!?;:…])/g, '$1')
    .trim();
}
