/** How recognized words are compared: what counts as words, and when two texts say the same. */

/** Letters and digits in `text`: what counts as words in a recognition. */
export function letters(text: string): number {
  return text.replace(/[^\p{L}\p{N}]/gu, '').length;
}

/** Case, punctuation and spacing do not make two recognitions different. */
export function normalize(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}
