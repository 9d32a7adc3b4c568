import { isWordChar } from './chunk-boundaries.js';

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|[\u200d\ufe0e\ufe0f\u20e3])$/u;
const LIST_MARKER = /^(?:#{1,6}|>|[-*+•]|\d{1,3}[.)])(?= )/;
const LINK_LIMIT = 300;

/**
 * Removes what a TTS would read aloud but a listener should not hear: markdown emphasis, code
 * ticks, headings, quotes and list bullets at line starts, link targets, emoji. Holds back only
 * the few characters a decision needs (a line start, " ![", "_", an unfinished link).
 */
export class MarkdownCleaner {
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
      // Only an "!" after a space can open an image; after a word it ends a sentence at once.
      if (ch === '!' && s[i + 1] === undefined && !ended && (this.#prev === '' || /\s/.test(this.#prev))) break;
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
