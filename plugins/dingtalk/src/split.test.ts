import { describe, expect, it } from 'vitest';
import { jsonBytes, splitLines } from './split.js';

describe('splitLines', () => {
  it('keeps content that fits in one piece', () => {
    expect(splitLines('a\nb', 100)).toEqual(['a\nb']);
  });

  it('splits at line boundaries, every chunk within the budget, nothing lost', () => {
    const lines = Array.from({ length: 300 }, (_, i) => `行 ${i} "quoted" \\ ${'é'.repeat(i % 7)}`);
    const content = lines.join('\n');
    const chunks = splitLines(content, 500);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(jsonBytes(c)).toBeLessThanOrEqual(500);
    expect(chunks.join('\n')).toBe(content);
  });

  it('cuts a single over-long line between code points', () => {
    const line = '😀中a'.repeat(100);
    const chunks = splitLines(line, 50);
    for (const c of chunks) expect(jsonBytes(c)).toBeLessThanOrEqual(50);
    expect(chunks.join('')).toBe(line);
    expect(chunks.join('')).not.toContain('\uFFFD');
  });

  it('counts JSON escapes and UTF-8 bytes', () => {
    expect(jsonBytes('a\n"')).toBe(5);
    expect(jsonBytes('中')).toBe(3);
  });
});
