// Lexing pieces shared by the template and the condition parsers: string and number literals,
// identifiers and dotted paths. Each reader starts at an offset and returns where it stopped, and
// reports problems through `fail` so each language raises its own error type with the position.

export type Fail = (problem: string, offset: number, fix?: string) => never;

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const SEGMENT = /[A-Za-z_][A-Za-z0-9_]*|[0-9]+/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const IDENT_CHAR = /[A-Za-z0-9_]/;

export const isIdentStart = (ch: string | undefined) => ch !== undefined && /[A-Za-z_]/.test(ch);
export const isDigit = (ch: string | undefined) => ch !== undefined && ch >= '0' && ch <= '9';
export const isSpace = (ch: string | undefined) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';

function match(re: RegExp, source: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(source)?.[0];
}

export function readIdent(source: string, at: number): string | undefined {
  return match(IDENT, source, at);
}

/** A number literal at `at` (an optional minus, decimals, exponent). */
export function readNumber(source: string, at: number, fail: Fail): { value: number; end: number } {
  const text = match(NUMBER, source, at);
  if (text === undefined) fail('expected a number', at);
  const end = at + text.length;
  if (IDENT_CHAR.test(source[end] ?? '') || source[end] === '.') {
    fail(`malformed number "${source.slice(at, end + 1)}"`, at, 'write numbers like 20, -1 or 0.5');
  }
  return { value: Number(text), end };
}

const ESCAPES: Record<string, string> = {
  '\\': '\\',
  '"': '"',
  "'": "'",
  n: '\n',
  r: '\r',
  t: '\t',
  '/': '/',
};

/** A quoted string starting at `at` (which holds the quote). Escapes: \\ \" \' \n \r \t \/ \uXXXX. */
export function readString(source: string, at: number, fail: Fail): { value: string; end: number } {
  const quote = source[at]!;
  let value = '';
  let i = at + 1;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === quote) return { value, end: i + 1 };
    if (ch === '\n') fail('a string cannot span lines', i, `close the string with ${quote}, or write \\n`);
    if (ch === '\\') {
      const next = source[i + 1];
      if (next === 'u') {
        const hex = source.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('\\u needs four hex digits', i, 'write \\u00e9 for é');
        value += String.fromCharCode(Number.parseInt(hex, 16));
        i += 6;
        continue;
      }
      const escaped = next === undefined ? undefined : ESCAPES[next];
      if (escaped === undefined || !Object.hasOwn(ESCAPES, next!)) {
        fail(
          `unknown escape "\\${next ?? ''}"`,
          i,
          'the escapes are \\\\ \\" \\\' \\n \\r \\t \\/ and \\uXXXX',
        );
      }
      value += escaped;
      i += 2;
      continue;
    }
    value += ch;
    i++;
  }
  return fail('unterminated string', at, `close it with ${quote}`);
}

/**
 * Dotted path segments after an optional leading dot: `.issue.fields.customfield_10001`,
 * `data.issueKeys.0`. Returns the segments and the offset after them. `at` points at the first
 * segment or at the leading dot.
 */
export function readPath(source: string, at: number, fail: Fail): { segments: string[]; end: number } {
  const segments: string[] = [];
  let i = at;
  let first = true;
  for (;;) {
    const dotted = source[i] === '.';
    if (!dotted && !first) break;
    const segmentAt = dotted ? i + 1 : i;
    const segment = match(SEGMENT, source, segmentAt);
    if (segment === undefined) {
      // A lone dot is the whole scope (Go's `{{ . }}`); a dot followed by something else is a typo.
      if (dotted && first && !IDENT_CHAR.test(source[segmentAt] ?? '') && source[segmentAt] !== '.') {
        return { segments, end: segmentAt };
      }
      fail(
        'expected a key name after "."',
        segmentAt,
        'keys are letters, digits and _ (like .issue.fields.customfield_10001); use index for other keys',
      );
    }
    segments.push(segment);
    i = segmentAt + segment.length;
    first = false;
    if (IDENT_CHAR.test(source[i] ?? ''))
      fail(`malformed key "${source.slice(segmentAt, i + 1)}"`, segmentAt);
  }
  return { segments, end: i };
}
