/** Marks that end a clause. */
export const CLAUSE_END = new Set([',', ';', ':']);
/** Dashes: a clause boundary when a space comes before them, a hyphen otherwise. */
export const DASHES = new Set(['—', '–', '-']);
/** Closing quotes and brackets, which belong to the mark before them. */
export const CLOSERS = new Set(['»', '"', '”', '’', "'", ')', ']']);
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
export const CASE_DECIDES = new Set(['т.д', 'т.п', 'руб', 'коп', 'тыс', 'млн', 'млрд', 'др', 'etc', 'a.m', 'p.m', 'inc', 'ltd', 'co']);

/** Words after which a Latin word followed by a dot may be a host name ("visit example.com"). */
const ADDRESS_CUES = new Set([
  'visit', 'at', 'to', 'on', 'see', 'via', 'site', 'website', 'page', 'portal', 'app', 'domain', 'address',
  'email', 'e-mail', 'mail', 'сайт', 'сайте', 'сайта', 'адрес', 'адресу', 'почту', 'почта', 'портал', 'портале',
]);

/** URL schemes: a colon after one of them is no clause boundary. */
const SCHEMES = new Set(['http', 'https', 'ftp', 'mailto', 'tel', 'sip', 'sips', 'file']);

/** A space or a newline (the cleaner turns tabs and CRs into spaces). */
export const isSpace = (ch: string | undefined): boolean => ch === ' ' || ch === '\n';
/** An ASCII digit. */
export const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '9';
/** A lower-case letter. */
export const isLower = (ch: string): boolean => ch !== ch.toUpperCase() && ch === ch.toLowerCase();
/** A letter or a digit. */
export const isWordChar = (ch: string | undefined): boolean => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

/** True when the dot at `dot` ends an initial ("А.") or a known abbreviation ("ул.", "e.g."). */
export function isAbbreviation(buf: string, dot: number): boolean {
  const word = wordBefore(buf, dot);
  if (word.length === 1 && /\p{L}/u.test(word)) return true;
  return NEVER_END.has(word);
}

/** The word that ends at the dot at `dot`, lower case, inner dots kept, openers dropped. */
export function wordBefore(buf: string, dot: number): string {
  let start = dot;
  while (start > 0 && !isSpace(buf[start - 1]) && dot - start < 16) start--;
  return buf.slice(start, dot).replace(OPENERS, '').toLowerCase();
}

/**
 * What a punctuation mark at the very end of the text (closers after it allowed) means before the
 * next delta shows what follows: 'cut' when nothing can continue it, 'hold' while a number, a
 * time, an address or an abbreviation that only the next word's case decides may still go on,
 * 'none' when it is no boundary yet. A clause mark counts only once the text is `clauseMin` long.
 */
export function tailVerdict(buf: string, clauseMin: number): 'cut' | 'hold' | 'none' {
  let j = buf.length - 1;
  while (j > 0 && CLOSERS.has(buf[j]!)) j--;
  const mark = buf[j];
  const before = buf[j - 1];
  if (mark === '!' || mark === '?') return inAddress(runBefore(buf, j)) ? 'hold' : 'cut';
  if (mark === '…' || (mark === '.' && before === '.')) return buf.length >= clauseMin ? 'cut' : 'hold';
  if (mark === '.') return fullStop(buf, j);
  if (mark === undefined || buf.length < clauseMin) return 'none';
  if (DASHES.has(mark)) return before !== ' ' ? 'none' : mark === '-' ? 'hold' : 'cut';
  if (!CLAUSE_END.has(mark)) return 'none';
  const run = runBefore(buf, j);
  if (mark === ':' && SCHEMES.has(run.toLowerCase())) return 'none';
  return (mark !== ';' && isDigit(before)) || inAddress(run) ? 'hold' : 'cut';
}

function fullStop(buf: string, dot: number): 'cut' | 'hold' | 'none' {
  if (isAbbreviation(buf, dot)) return 'none';
  if (CASE_DECIDES.has(wordBefore(buf, dot))) return 'hold';
  const run = runBefore(buf, dot);
  // "3." may go on as 3.5 or an ordinal; "10:30." is a whole time.
  if (isDigit(buf[dot - 1])) return run.includes(':') ? 'cut' : 'hold';
  if (inAddress(run)) return 'hold';
  return /^[a-z][a-z0-9-]*$/i.test(run) && hostCue(previousWord(buf, dot - run.length)) ? 'hold' : 'cut';
}

const RUN_LIMIT = 64;

/** The characters since the last whitespace before `at`, openers dropped; at most RUN_LIMIT + 1. */
function runBefore(buf: string, at: number): string {
  let start = at;
  while (start > 0 && !isSpace(buf[start - 1]) && at - start <= RUN_LIMIT) start--;
  return buf.slice(start, at).replace(OPENERS, '');
}

/** An e-mail, a URL or a host name so far: "@", "/", "a.b", or too long to be a word. */
function inAddress(run: string): boolean {
  return run.length > RUN_LIMIT || /[@/]|\.\p{L}/u.test(run);
}

/** The word before the run that starts at `start`, lower case, punctuation around it dropped. */
function previousWord(buf: string, start: number): string {
  let end = start;
  while (end > 0 && isSpace(buf[end - 1])) end--;
  let begin = end;
  while (begin > 0 && !isSpace(buf[begin - 1]) && end - begin < 16) begin--;
  return buf.slice(begin, end).replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '').toLowerCase();
}

/** A Latin word after this one may be a host name: an address cue, or a Cyrillic word around it. */
function hostCue(word: string): boolean {
  return ADDRESS_CUES.has(word) || /\p{Script=Cyrillic}/u.test(word);
}
