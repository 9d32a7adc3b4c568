/** Recognizer partials that are only the bot's own words coming back as echo. */

/** Partial words that may fail to match, per word: one in five (none in a partial of up to four words). */
const UNMATCHED_PER_WORD = 0.2;

/**
 * True when the words of `partial` are words the bot is saying (`botRecentText`): in the bot's
 * order, within a short stretch of its text, each equal up to case, punctuation, ё/е and a
 * recognizer's slips (one wrong letter in four), the last one possibly cut short; at most one word
 * in five may be missing from the bot's text. An empty partial is not echo.
 */
export function isEchoOfBotWords(partial: string, botRecentText: string): boolean {
  const heard = words(partial);
  if (heard.length === 0) return false;
  const said = words(botRecentText);
  if (said.length === 0) return false;
  const needed = heard.length - Math.floor(heard.length * UNMATCHED_PER_WORD);
  // The echo is one stretch of the bot's speech: a window a little longer than the partial.
  const window = heard.length + Math.max(2, Math.ceil(heard.length / 2));
  for (let start = 0; start < said.length; start++) {
    if (matchedInOrder(heard, said, start, Math.min(said.length, start + window)) >= needed) return true;
  }
  return false;
}

/** Lower-case words of `text`: letters and digits, ё read as е. */
function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/ё/g, 'е')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w !== '');
}

/** Longest in-order matching of `heard` within `said[from, to)` (the last heard word may be a prefix). */
function matchedInOrder(heard: string[], said: string[], from: number, to: number): number {
  const width = to - from;
  let previous = new Array<number>(width + 1).fill(0);
  for (let i = 0; i < heard.length; i++) {
    const current = new Array<number>(width + 1).fill(0);
    const last = i === heard.length - 1;
    for (let j = 0; j < width; j++) {
      current[j + 1] = sameWord(heard[i]!, said[from + j]!, last)
        ? previous[j]! + 1
        : Math.max(previous[j + 1]!, current[j]!);
    }
    previous = current;
  }
  return previous[width]!;
}

/** Equal up to one edit per four letters; a `cut` word may also be the start of the other. */
function sameWord(heard: string, said: string, cut: boolean): boolean {
  if (heard === said) return true;
  if (cut && heard.length >= 2 && said.startsWith(heard)) return true;
  const allowed = Math.floor(Math.max(heard.length, said.length) / 4);
  if (allowed === 0 || Math.abs(heard.length - said.length) > allowed) return false;
  return editDistance(heard, said, allowed) <= allowed;
}

/** Levenshtein distance, stopping early once it exceeds `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      best = Math.min(best, current[j]!);
    }
    if (best > limit) return best;
    previous = current;
  }
  return previous[b.length]!;
}
