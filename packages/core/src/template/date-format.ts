// The `date` filter's format language, kept to the few tokens a branch name, a namespace or a
// comment needs. Always UTC: a rendered name must not depend on the server's time zone.
//
//   YYYY year · MM month 01-12 · DD day 01-31 · HH hour 00-23 · mm minute · ss second · SSS millisecond
//   T and Z stand for themselves; any other letters go in [brackets]; other characters are copied.

export class DateFormatError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}

type Token = 'YYYY' | 'MM' | 'DD' | 'HH' | 'mm' | 'ss' | 'SSS';
export type DatePart = { token: Token } | { text: string };

// Longest first, so SSS is not read as S… and YYYY before anything shorter.
const TOKENS: readonly Token[] = ['YYYY', 'SSS', 'MM', 'DD', 'HH', 'mm', 'ss'];
const TOKEN_HELP =
  'tokens: YYYY MM DD HH mm ss SSS (UTC); T and Z are literal; put other letters in [brackets]';

export function parseDateFormat(format: string): DatePart[] {
  const parts: DatePart[] = [];
  let text = '';
  let i = 0;
  while (i < format.length) {
    const ch = format[i]!;
    if (ch === '[') {
      const close = format.indexOf(']', i + 1);
      if (close < 0) throw new DateFormatError(`unclosed "[" in date format "${format}"`, 'close it with ]');
      text += format.slice(i + 1, close);
      i = close + 1;
      continue;
    }
    const token = TOKENS.find((t) => format.startsWith(t, i));
    if (token !== undefined) {
      if (text) parts.push({ text });
      text = '';
      parts.push({ token });
      i += token.length;
      continue;
    }
    if (/[A-Za-z]/.test(ch) && ch !== 'T' && ch !== 'Z') {
      const run = /^[A-Za-z]+/.exec(format.slice(i))![0];
      throw new DateFormatError(`unknown date token "${run}" in "${format}"`, TOKEN_HELP);
    }
    text += ch;
    i++;
  }
  if (text) parts.push({ text });
  return parts;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Epoch milliseconds from an ISO 8601 string or a number of epoch milliseconds. A date-time without
 * an offset is read as UTC (JavaScript would read it in the server's zone).
 */
export function toEpochMs(input: unknown): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || Math.abs(input) > 8.64e15) {
      throw new DateFormatError('date expects epoch milliseconds within the range of a date');
    }
    return input;
  }
  if (typeof input !== 'string') {
    throw new DateFormatError('date expects an ISO 8601 string or epoch milliseconds');
  }
  const m = ISO.exec(input);
  if (m === null) {
    throw new DateFormatError(
      `date cannot read "${input.length > 40 ? `${input.slice(0, 40)}…` : input}"`,
      'give an ISO 8601 date like 2026-11-26 or 2026-11-26T18:00:00Z, or epoch milliseconds',
    );
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone = 'Z'] = m;
  const parts = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], parts[5], ms);
  const back = new Date(utc);
  // Date.UTC rolls 2026-02-31 over into March; a date that does not round-trip does not exist.
  if (
    back.getUTCFullYear() !== parts[0] ||
    back.getUTCMonth() !== parts[1] - 1 ||
    back.getUTCDate() !== parts[2] ||
    back.getUTCHours() !== parts[3] ||
    back.getUTCMinutes() !== parts[4] ||
    back.getUTCSeconds() !== parts[5]
  ) {
    throw new DateFormatError(`date "${input}" does not exist`);
  }
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone.replace(':', '');
    offsetMinutes =
      (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * (zone[0] === '-' ? -1 : 1);
  }
  return utc - offsetMinutes * 60_000;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function formatDate(parts: readonly DatePart[], input: unknown): string {
  const date = new Date(toEpochMs(input));
  return parts
    .map((part) => {
      if ('text' in part) return part.text;
      switch (part.token) {
        case 'YYYY':
          return pad(date.getUTCFullYear(), 4);
        case 'MM':
          return pad(date.getUTCMonth() + 1, 2);
        case 'DD':
          return pad(date.getUTCDate(), 2);
        case 'HH':
          return pad(date.getUTCHours(), 2);
        case 'mm':
          return pad(date.getUTCMinutes(), 2);
        case 'ss':
          return pad(date.getUTCSeconds(), 2);
        case 'SSS':
          return pad(date.getUTCMilliseconds(), 3);
      }
      return '';
    })
    .join('');
}
