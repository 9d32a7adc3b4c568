/** One spoken piece of a reply: its text, its audio length, and how much of it was played. */
export interface SpokenPiece {
  text: string;
  totalMs: number;
  playedMs: number;
}

/**
 * What the caller actually heard of a reply: whole pieces that finished playing, plus the
 * proportional prefix of the piece that was cut, ending on a word boundary.
 */
export function heardText(pieces: readonly SpokenPiece[]): string {
  const parts: string[] = [];
  for (const piece of pieces) {
    if (piece.playedMs <= 0) break;
    if (piece.totalMs <= 0 || piece.playedMs >= piece.totalMs - 1) {
      parts.push(piece.text);
      continue;
    }
    const cut = Math.floor(piece.text.length * (piece.playedMs / piece.totalMs));
    const space = piece.text.lastIndexOf(' ', cut);
    const prefix = piece.text.slice(0, space > 0 ? space : 0).trim();
    if (prefix !== '') parts.push(`${prefix}…`);
    break;
  }
  return parts.join(' ').trim();
}
