/*
 * Conditions (`if:` of rules and triggers): `data.environment == "production" && data.outcome == "succeeded"`.
 * Hand-written for the same reason as the templates (template.ts): a dozen operators over event
 * data, with nothing else reachable. Grammar, loosest first:
 *
 *   or      := and ("||" and)*
 *   and     := compare ("&&" compare)*
 *   compare := unary [OP unary]     OP: == != < <= > >= in startsWith endsWith contains matches
 *   unary   := "!" unary | operand
 *   operand := PATH | STRING | NUMBER | true | false | null | "[" [or ("," or)*] "]" | "(" or ")"
 *
 * Semantics chosen for rules that must never throw on odd data:
 * - A missing path is undefined: every comparison with it is false, except != which is true
 *   (`!=` is always the negation of `==`). `!data.x` is true when x is missing.
 * - No coercion: 1 == "1" is false; < <= > >= compare two numbers or two strings, else false.
 * - Truthiness (&&, ||, !, a bare path): false, null, 0, "", an empty list, an empty object and
 *   missing are false; everything else is true.
 */
import { ErrorCodes } from '../errors.js';
import { deepEqual, FORBIDDEN_SEGMENTS, isMissing, isPlainObject, lookup, pathText } from './data.js';
import { ConditionError, conditionSyntax } from './errors.js';
import { compilePattern, type Pattern, PatternError } from './regex.js';
import {
  type Fail,
  isDigit,
  isIdentStart,
  isSpace,
  readIdent,
  readNumber,
  readPath,
  readString,
} from './scan.js';

export interface Condition {
  readonly source: string;
  /** Every path the condition reads, without a leading dot (`data.environment`). */
  readonly paths: string[];
  evaluate(scope: Record<string, unknown>): boolean;
}

/** Longest subject `matches` accepts; a longer one is an evaluation error rather than a silent false. */
export const MAX_MATCH_SUBJECT = 65_536;
const MAX_DEPTH = 32;

type CompareOp =
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'in'
  | 'startsWith'
  | 'endsWith'
  | 'contains'
  | 'matches';
const WORD_OPS = new Set(['in', 'startsWith', 'endsWith', 'contains', 'matches']);

type Expr =
  | { kind: 'literal'; value: unknown }
  | { kind: 'path'; segments: string[] }
  | { kind: 'list'; items: Expr[] }
  | { kind: 'not'; operand: Expr }
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'compare'; op: CompareOp; left: Expr; right: Expr; pattern?: Pattern; at: number };

type Token =
  | { kind: 'op'; op: string; at: number }
  | { kind: 'path'; segments: string[]; at: number }
  | { kind: 'literal'; value: unknown; at: number }
  | { kind: 'punct'; ch: '(' | ')' | '[' | ']' | ','; at: number }
  | { kind: 'end'; at: number };

export function compileCondition(source: string, where?: string): Condition {
  if (typeof source !== 'string') {
    throw conditionSyntax('must be a string', {
      source: String(source),
      where,
      fix: 'quote the condition in YAML',
    });
  }
  const fail: Fail = (problem, offset, fix) => {
    throw conditionSyntax(problem, { source, where, offset, fix });
  };
  const tokens = lex(source, fail);
  const paths: string[] = [];
  const expr = new Parser(source, tokens, fail, paths).parse();
  return {
    source,
    paths: [...new Set(paths)],
    evaluate(scope) {
      return truthy(evaluate(expr, scope, source, where));
    },
  };
}

function lex(source: string, fail: Fail): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (isSpace(ch)) {
      i++;
      continue;
    }
    const two = source.slice(i, i + 2);
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
      tokens.push({ kind: 'op', op: two, at: i });
      i += 2;
    } else if (ch === '<' || ch === '>' || ch === '!') {
      tokens.push({ kind: 'op', op: ch, at: i });
      i++;
    } else if (ch === '(' || ch === ')' || ch === '[' || ch === ']' || ch === ',') {
      tokens.push({ kind: 'punct', ch, at: i });
      i++;
    } else if (ch === '"' || ch === "'") {
      const { value, end } = readString(source, i, fail);
      tokens.push({ kind: 'literal', value, at: i });
      i = end;
    } else if (isDigit(ch) || (ch === '-' && isDigit(source[i + 1]))) {
      const { value, end } = readNumber(source, i, fail);
      tokens.push({ kind: 'literal', value, at: i });
      i = end;
    } else if (isIdentStart(ch) || ch === '.') {
      const word = readIdent(source, i);
      const followedByDot = word !== undefined && source[i + word.length] === '.';
      if (word !== undefined && !followedByDot && (word === 'true' || word === 'false' || word === 'null')) {
        tokens.push({ kind: 'literal', value: word === 'null' ? null : word === 'true', at: i });
        i += word.length;
      } else if (word !== undefined && !followedByDot && WORD_OPS.has(word)) {
        tokens.push({ kind: 'op', op: word, at: i });
        i += word.length;
      } else {
        const { segments, end } = readPath(source, i, fail);
        if (segments.length === 0) fail('"." alone is not a path', i, 'name a field: data.environment');
        let at = ch === '.' ? i + 1 : i;
        for (const segment of segments) {
          if (FORBIDDEN_SEGMENTS.has(segment))
            fail(`"${segment}" cannot be read`, at, 'conditions read event data only');
          at += segment.length + 1;
        }
        tokens.push({ kind: 'path', segments, at: i });
        i = end;
      }
    } else {
      fail(`unexpected ${JSON.stringify(ch)}`, i, hintFor(source, i));
    }
  }
  tokens.push({ kind: 'end', at: source.length });
  return tokens;
}

function hintFor(source: string, i: number): string {
  const ch = source[i];
  if (ch === '=') return 'compare with ==';
  if (ch === '&') return 'combine with &&';
  if (ch === '|') return 'combine with ||';
  if (ch === '`') return 'strings use double or single quotes';
  if (ch === '$')
    return 'variables and $-placeholders are not supported; read event data with a path like data.service';
  if ('+-*/%'.includes(ch ?? '')) return 'arithmetic is not supported; compare values directly';
  if (ch === '{' || ch === '}')
    return 'conditions are not templates: write data.service, not {{ .data.service }}';
  return 'a condition compares paths (data.environment) with literals using == != < > in contains …';
}

class Parser {
  #pos = 0;
  #depth = 0;
  constructor(
    readonly source: string,
    readonly tokens: Token[],
    readonly fail: Fail,
    readonly paths: string[],
  ) {}

  parse(): Expr {
    if (this.tokens.length === 1)
      this.fail('empty condition', 0, 'write a comparison like data.environment == "production"');
    const expr = this.#or();
    const token = this.#peek();
    if (token.kind !== 'end') this.#unexpected(token);
    return expr;
  }

  #peek(): Token {
    return this.tokens[this.#pos]!;
  }

  #isOp(op: string): boolean {
    const token = this.#peek();
    return token.kind === 'op' && token.op === op;
  }

  #isPunct(ch: string): boolean {
    const token = this.#peek();
    return token.kind === 'punct' && token.ch === ch;
  }

  #or(): Expr {
    let left = this.#and();
    while (this.#isOp('||')) {
      this.#pos++;
      left = { kind: 'or', left, right: this.#and() };
    }
    return left;
  }

  #and(): Expr {
    let left = this.#compare();
    while (this.#isOp('&&')) {
      this.#pos++;
      left = { kind: 'and', left, right: this.#compare() };
    }
    return left;
  }

  #compare(): Expr {
    const start = this.#peek();
    const left = this.#unary();
    const token = this.#peek();
    if (token.kind !== 'op' || !isCompareOp(token.op)) return left;
    if (left.kind === 'not') {
      // JavaScript would read `!a == b` as `(!a) == b`, which is rarely what was meant.
      this.fail(`"!" before a comparison is ambiguous`, start.at, `write !(… ${token.op} …) or use !=`);
    }
    this.#pos++;
    const right = this.#unary();
    const after = this.#peek();
    if (after.kind === 'op' && isCompareOp(after.op)) {
      this.fail('comparisons cannot be chained', after.at, 'join them with && or ||');
    }
    const op = token.op as CompareOp;
    if (op !== 'matches') return { kind: 'compare', op, left, right, at: token.at };
    if (right.kind !== 'literal' || typeof right.value !== 'string') {
      return this.fail(
        'matches needs a string literal pattern',
        token.at,
        'write data.service matches "^pay-"',
      );
    }
    try {
      return { kind: 'compare', op, left, right, at: token.at, pattern: compilePattern(right.value) };
    } catch (error) {
      if (!(error instanceof PatternError)) throw error;
      // Point at the pattern inside its quotes (exact for patterns without escapes).
      const literal = this.tokens[this.#pos - 1]!;
      return this.fail(`invalid pattern: ${error.message}`, literal.at + 1 + error.offset, error.fix);
    }
  }

  #unary(): Expr {
    const token = this.#peek();
    if (token.kind === 'op' && token.op === '!') {
      this.#pos++;
      return this.#nested(token.at, () => ({ kind: 'not', operand: this.#unary() }));
    }
    return this.#operand();
  }

  #nested<T>(at: number, parse: () => T): T {
    if (++this.#depth > MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} levels deep`, at);
    const result = parse();
    this.#depth--;
    return result;
  }

  #operand(): Expr {
    const token = this.tokens[this.#pos++]!;
    if (token.kind === 'literal') return { kind: 'literal', value: token.value };
    if (token.kind === 'path') {
      this.paths.push(pathText(token.segments).slice(1));
      if (this.#isPunct('(')) {
        this.fail(
          'function calls are not supported',
          this.#peek().at,
          'use an operator: data.service startsWith "pay"',
        );
      }
      return { kind: 'path', segments: token.segments };
    }
    if (token.kind === 'punct' && token.ch === '(') {
      const inner = this.#nested(token.at, () => this.#or());
      if (!this.#isPunct(')'))
        this.fail('expected ")"', this.#peek().at, `close the "(" at column ${token.at + 1}`);
      this.#pos++;
      return inner;
    }
    if (token.kind === 'punct' && token.ch === '[') {
      return this.#nested(token.at, () => {
        const items: Expr[] = [];
        while (!this.#isPunct(']')) {
          items.push(this.#or());
          if (this.#isPunct(',')) this.#pos++;
          else if (!this.#isPunct(']')) this.fail('expected "," or "]" in the list', this.#peek().at);
        }
        this.#pos++;
        // A list of literals is folded once here rather than rebuilt on every event.
        if (items.every((item) => item.kind === 'literal')) {
          return { kind: 'literal', value: items.map((item) => (item as { value: unknown }).value) };
        }
        return { kind: 'list', items };
      });
    }
    if (token.kind === 'end')
      return this.fail('the condition ends too early', token.at, 'add the missing value');
    return this.#unexpected(token);
  }

  #unexpected(token: Token): never {
    const what =
      token.kind === 'op'
        ? `"${token.op}"`
        : token.kind === 'punct'
          ? `"${token.ch}"`
          : token.kind === 'path'
            ? 'a path'
            : 'a value';
    const fix =
      token.kind === 'punct' && token.ch === '['
        ? 'index a list with a dot: data.issueKeys.0'
        : 'join comparisons with && or ||, e.g. a == "x" && b != "y"';
    return this.fail(`unexpected ${what}`, token.at, fix);
  }
}

function isCompareOp(op: string): boolean {
  return ['==', '!=', '<', '<=', '>', '>='].includes(op) || WORD_OPS.has(op);
}

export function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

function evaluate(
  expr: Expr,
  scope: Record<string, unknown>,
  source: string,
  where: string | undefined,
): unknown {
  const recur = (e: Expr) => evaluate(e, scope, source, where);
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'path': {
      const value = lookup(scope, expr.segments);
      return isMissing(value) ? undefined : value;
    }
    case 'list':
      return expr.items.map(recur);
    case 'not':
      return !truthy(recur(expr.operand));
    case 'and':
      return truthy(recur(expr.left)) && truthy(recur(expr.right));
    case 'or':
      return truthy(recur(expr.left)) || truthy(recur(expr.right));
    case 'compare':
      return compare(expr, recur(expr.left), recur(expr.right), source, where);
  }
}

function compare(
  expr: Extract<Expr, { kind: 'compare' }>,
  left: unknown,
  right: unknown,
  source: string,
  where: string | undefined,
): boolean {
  const defined = left !== undefined && right !== undefined;
  switch (expr.op) {
    case '==':
      return defined && deepEqual(left, right);
    case '!=':
      return !(defined && deepEqual(left, right));
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const comparable =
        (typeof left === 'number' && typeof right === 'number') ||
        (typeof left === 'string' && typeof right === 'string');
      if (!comparable) return false;
      const [a, b] = [left as number | string, right as number | string];
      return expr.op === '<' ? a < b : expr.op === '<=' ? a <= b : expr.op === '>' ? a > b : a >= b;
    }
    case 'in':
      return contains(right, left);
    case 'contains':
      return contains(left, right);
    case 'startsWith':
      return typeof left === 'string' && typeof right === 'string' && left.startsWith(right);
    case 'endsWith':
      return typeof left === 'string' && typeof right === 'string' && left.endsWith(right);
    case 'matches':
      if (typeof left !== 'string') return false;
      if (left.length > MAX_MATCH_SUBJECT) {
        throw new ConditionError(
          ErrorCodes.CONDITION_EVAL,
          `matches got ${left.length} characters; the limit is ${MAX_MATCH_SUBJECT}`,
          { source, where, offset: expr.at, fix: 'match a shorter field, or use startsWith/contains' },
        );
      }
      return expr.pattern!.test(left);
  }
}

/** A list holding an equal item, or a string holding a substring. */
function contains(haystack: unknown, needle: unknown): boolean {
  if (needle === undefined) return false;
  if (Array.isArray(haystack)) return haystack.some((item) => deepEqual(item, needle));
  return typeof haystack === 'string' && typeof needle === 'string' && haystack.includes(needle);
}
