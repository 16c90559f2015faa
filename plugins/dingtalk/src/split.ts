/** Bytes a string adds inside a JSON body (UTF-8, after JSON escaping). Additive over code points. */
export function jsonBytes(value: string): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8') - 2;
}

/**
 * Splits content into chunks of at most `budget` bytes (as `jsonBytes` counts them inside a JSON
 * body), at line boundaries. A single line longer than the budget is cut between code points.
 * Chunks that would hold only blank lines are dropped.
 */
export function splitLines(content: string, budget: number): string[] {
  if (!(budget >= 1)) throw new RangeError(`split budget must be positive, got ${budget}`);
  if (jsonBytes(content) <= budget) return [content];
  const newline = jsonBytes('\n');
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 0;
  const flush = () => {
    if (current.length > 0) chunks.push(current.join('\n'));
    current = [];
    size = 0;
  };
  for (const line of content.split('\n')) {
    const bytes = jsonBytes(line);
    const added = current.length === 0 ? bytes : newline + bytes;
    if (size + added <= budget) {
      current.push(line);
      size += added;
      continue;
    }
    flush();
    if (bytes <= budget) {
      current.push(line);
      size = bytes;
      continue;
    }
    // One line over the budget: cut it between code points.
    let piece = '';
    let pieceSize = 0;
    for (const ch of line) {
      const b = jsonBytes(ch);
      if (pieceSize + b > budget) {
        chunks.push(piece);
        piece = '';
        pieceSize = 0;
      }
      piece += ch;
      pieceSize += b;
    }
    current.push(piece);
    size = pieceSize;
  }
  flush();
  const kept = chunks.filter((c) => c.trim() !== '');
  return kept.length > 0 ? kept : chunks;
}
