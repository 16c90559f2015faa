// The template filters. A filter takes the piped value and fixed arguments and returns a new value;
// none can reach anything but its inputs. Arguments are checked at compile time when they are
// literals (the usual case), so `truncate "x"` or `date "yyyy"` fails at load, not mid-delivery.
import { isMissing, toData, toText, typeName } from './data.js';
import { DateFormatError, formatDate, parseDateFormat } from './date-format.js';

/** A filter that cannot handle its input or arguments; the template wraps it with the position. */
export class FilterInputError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}

type ArgKind = 'string' | 'integer' | 'any';

export interface FilterSpec<P = unknown> {
  readonly name: string;
  readonly args: readonly ArgKind[];
  /** How it is written, for error messages and docs. */
  readonly usage: string;
  /** `default` alone sees a missing path; every other filter passes a missing value along. */
  readonly catchesMissing?: boolean;
  /** Checks and prepares the arguments; run once at compile time when they are all literals. */
  prepare(args: readonly unknown[]): P;
  apply(input: unknown, prepared: P): unknown;
}

function checkArg(filter: string, usage: string, kind: ArgKind, value: unknown, index: number): void {
  const ok =
    kind === 'any' ||
    (kind === 'string' && typeof value === 'string') ||
    (kind === 'integer' && typeof value === 'number' && Number.isInteger(value) && value >= 0);
  if (!ok) {
    const wanted = kind === 'string' ? 'a string' : 'a whole number ≥ 0';
    throw new FilterInputError(
      `${filter}: argument ${index + 1} must be ${wanted}, got ${typeName(value)}`,
      usage,
    );
  }
}

/** Text filters accept strings, and numbers and booleans as their text. */
function text(filter: string, input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  throw new FilterInputError(
    `${filter} expects text, got ${typeName(input)}`,
    Array.isArray(input)
      ? `pick one item (.list.0) or join the list first: | join ", " | ${filter}`
      : undefined,
  );
}

function define<P>(spec: Omit<FilterSpec<P>, 'prepare'> & { prepare?: (args: readonly unknown[]) => P }) {
  const prepare = (args: readonly unknown[]): P => {
    spec.args.forEach((kind, i) => {
      checkArg(spec.name, spec.usage, kind, args[i], i);
    });
    return spec.prepare ? spec.prepare(args) : (args as unknown as P);
  };
  return { ...spec, prepare } as FilterSpec<unknown>;
}

const filters: FilterSpec[] = [
  define({ name: 'lower', args: [], usage: '| lower', apply: (v) => text('lower', v).toLowerCase() }),
  define({ name: 'upper', args: [], usage: '| upper', apply: (v) => text('upper', v).toUpperCase() }),
  define({ name: 'trim', args: [], usage: '| trim', apply: (v) => text('trim', v).trim() }),
  define({
    name: 'default',
    args: ['any'],
    usage: '| default "fallback"',
    catchesMissing: true,
    // Missing, null and "" are "no value"; 0 and false are real answers and are kept.
    apply: (v, [fallback]: unknown[]) => (isMissing(v) || v === null || v === '' ? fallback : v),
  }),
  define({
    name: 'join',
    args: ['string'],
    usage: '| join ", "',
    apply: (v, [separator]: unknown[]) => {
      if (!Array.isArray(v)) throw new FilterInputError(`join expects a list, got ${typeName(v)}`);
      return v.map((item) => toText(item)).join(separator as string);
    },
  }),
  define({ name: 'json', args: [], usage: '| json', apply: (v) => JSON.stringify(toData(v)) }),
  define({
    name: 'replace',
    args: ['string', 'string'],
    usage: '| replace "old" "new"',
    prepare: (args) => {
      if (args[0] === '')
        throw new FilterInputError('replace: the text to replace cannot be empty', '| replace "old" "new"');
      return args as [string, string];
    },
    // Plain text, never a pattern: "." means a dot.
    apply: (v, [from, to]: [string, string]) => text('replace', v).replaceAll(from, () => to),
  }),
  define({
    name: 'truncate',
    args: ['integer'],
    usage: '| truncate 20',
    apply: (v, [length]: unknown[]) => {
      // By code points, so an emoji or a CJK surrogate pair is never cut in half.
      const chars = Array.from(text('truncate', v));
      return chars.length <= (length as number) ? chars.join('') : chars.slice(0, length as number).join('');
    },
  }),
  define({
    name: 'date',
    args: ['string'],
    usage: '| date "YYYY-MM-DD"',
    prepare: ([format]) => {
      try {
        return parseDateFormat(format as string);
      } catch (error) {
        if (error instanceof DateFormatError) throw new FilterInputError(`date: ${error.message}`, error.fix);
        throw error;
      }
    },
    apply: (v, parts: ReturnType<typeof parseDateFormat>) => {
      try {
        return formatDate(parts, v);
      } catch (error) {
        if (error instanceof DateFormatError) throw new FilterInputError(error.message, error.fix);
        throw error;
      }
    },
  }),
];

/** Filters by name; a Map so `constructor` or `__proto__` can never name one. */
export const FILTERS: ReadonlyMap<string, FilterSpec> = new Map(filters.map((f) => [f.name, f]));

/** Every name usable after `|`, for "unknown filter" messages. `index` is handled by the parser. */
export const FILTER_NAMES: readonly string[] = [...FILTERS.keys(), 'index'].sort();
