/*
 * Templates: `feature/{{ .issue.key }}`, `dev-{{ .issue.key | lower }}`, `{{ .data.issueKeys }}`.
 *
 * Why hand-written: the syntax users already write is Go's text/template subset (dot paths, `|`
 * pipes, space-separated filter arguments, Go's argument order for `index` and function calls).
 * No kept JavaScript engine speaks it: Liquid writes `| filter: arg`, Handlebars has no pipes,
 * Nunjucks needs no dot and has had sandbox escapes through `constructor`. Emulating the syntax on top
 * of one of them would keep its whole surface (helpers, JS property access) reachable. A tokenizer and
 * a recursive-descent parser give exactly this language and nothing else: the only
 * operations are own-property reads of plain data (data.ts) and the filters in filters.ts.
 *
 *   template := (text | action)*        action := "{{" ["- "] pipeline [" -"] "}}"
 *   pipeline := command ("|" stage)*
 *   command  := arg | "index" arg arg+ | FILTER arg* arg     (Go form: the last argument is the input)
 *   stage    := FILTER arg* | "index" arg+                    (the piped value is the input)
 *   arg      := PATH | STRING | NUMBER | true | false | null | "(" pipeline ")"
 */
import { ErrorCodes } from '../errors.js';
import {
  DataShapeError,
  FORBIDDEN_SEGMENTS,
  isMissing,
  lookup,
  Missing,
  pathText,
  step,
  toData,
  toText,
  typeName,
} from './data.js';
import { type SourceErrorInit, TemplateError, templateSyntax } from './errors.js';
import { FILTER_NAMES, FILTERS, FilterInputError, type FilterSpec } from './filters.js';
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

export interface Template {
  /** The text as written. */
  readonly source: string;
  /** Every path the template reads, as written (`.issue.key`), in order of appearance. */
  readonly paths: string[];
  /**
   * The rendered value. A template that is exactly one `{{ … }}` returns the value itself (a list
   * stays a list, a number a number; a copy, never the scope's own object); any other template
   * returns a string, with lists and objects as JSON and null as "".
   */
  render(scope: Record<string, unknown>): unknown;
}

type Expr =
  | { kind: 'literal'; value: unknown; at: number }
  | { kind: 'path'; segments: string[]; text: string; at: number }
  | { kind: 'pipeline'; head: Expr; stages: Stage[]; at: number };

type Stage =
  | { kind: 'index'; keys: Expr[]; at: number }
  | {
      kind: 'filter';
      filter: FilterSpec;
      args: Expr[];
      prepared: { value: unknown } | undefined;
      at: number;
    };

type Node = { kind: 'text'; text: string } | { kind: 'action'; expr: Expr; at: number };

type Token =
  | { kind: 'path'; segments: string[]; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'ident'; name: string; at: number }
  | { kind: 'pipe' | 'lparen' | 'rparen' | 'close'; at: number };

const MAX_DEPTH = 32;
const GO_KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
]);
const FILTER_LIST = FILTER_NAMES.join(', ');

/** True when the string holds `{{`: any `{{` makes it a template, so an unclosed one is reported. */
export function isTemplated(value: string): boolean {
  return value.includes('{{');
}

export function compileTemplate(source: string, where?: string): Template {
  if (typeof source !== 'string') {
    throw templateSyntax(`must be a string, got ${typeName(source)}`, { source: String(source), where });
  }
  return new Parser(source, where).parse();
}

export function renderTemplate(source: string, scope: Record<string, unknown>, where?: string): unknown {
  return compileTemplate(source, where).render(scope);
}

class Parser {
  readonly #source: string;
  readonly #where: string | undefined;
  #tokens: Token[] = [];
  #pos = 0;
  #depth = 0;
  readonly #paths: string[] = [];

  constructor(source: string, where: string | undefined) {
    this.#source = source;
    this.#where = where;
  }

  readonly #fail: Fail = (problem, offset, fix) => {
    throw templateSyntax(problem, { source: this.#source, where: this.#where, offset, fix });
  };

  parse(): Template {
    const source = this.#source;
    const nodes: Node[] = [];
    let at = 0;
    let trimNext = false;
    for (;;) {
      const open = source.indexOf('{{', at);
      let text = source.slice(at, open < 0 ? source.length : open);
      if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
      if (open < 0) {
        if (text) nodes.push({ kind: 'text', text });
        break;
      }
      let start = open + 2;
      // `{{- ` trims the text before; the space tells it apart from a negative number (Go's rule).
      if (source[start] === '-' && isSpace(source[start + 1])) {
        text = text.replace(/[ \t\r\n]+$/, '');
        start++;
      }
      if (text) nodes.push({ kind: 'text', text });
      // Go's `{{/* comment */}}` renders nothing.
      const comment = /^\s*\/\*/.exec(source.slice(start));
      if (comment) {
        const end = source.indexOf('*/', start + comment[0].length);
        const close = end < 0 ? null : /^\s*(-\s*)?\}\}/.exec(source.slice(end + 2));
        if (close === null) return this.#fail('unclosed comment', open, 'close it with */}}');
        trimNext = close[1] !== undefined;
        at = end + 2 + close[0].length;
        continue;
      }
      const lexed = this.#lexAction(open, start);
      this.#tokens = lexed.tokens;
      this.#pos = 0;
      const expr = this.#pipeline();
      const last = this.#peek();
      if (last.kind !== 'close') this.#unexpected(last, expr);
      nodes.push({ kind: 'action', expr, at: open });
      trimNext = lexed.trim;
      at = lexed.end;
    }
    return new CompiledTemplate(source, this.#where, nodes, [...new Set(this.#paths)]);
  }

  #lexAction(open: number, start: number): { tokens: Token[]; end: number; trim: boolean } {
    const source = this.#source;
    const fail = this.#fail;
    const tokens: Token[] = [];
    let i = start;
    for (;;) {
      const before = i;
      while (isSpace(source[i])) i++;
      if (i >= source.length) fail('unclosed {{', open, 'close the action with }}');
      if (source.startsWith('}}', i)) {
        tokens.push({ kind: 'close', at: i });
        return { tokens, end: i + 2, trim: false };
      }
      const ch = source[i]!;
      if (ch === '-' && source.startsWith('-}}', i)) {
        if (i === before)
          fail('"-}}" needs a space before it', i, 'write " -}}" to trim the text after, or "}}"');
        tokens.push({ kind: 'close', at: i });
        return { tokens, end: i + 3, trim: true };
      }
      if (ch === '.') {
        const { segments, end } = readPath(source, i, fail);
        let segmentAt = i;
        for (const segment of segments) {
          segmentAt = source.indexOf(segment, segmentAt);
          if (FORBIDDEN_SEGMENTS.has(segment)) {
            fail(
              `"${segment}" cannot be read`,
              segmentAt,
              'templates read event data only; prototype keys are refused',
            );
          }
        }
        tokens.push({ kind: 'path', segments, at: i });
        this.#paths.push(pathText(segments));
        i = end;
      } else if (ch === '"') {
        const { value, end } = readString(source, i, fail);
        tokens.push({ kind: 'string', value, at: i });
        i = end;
      } else if (isDigit(ch) || (ch === '-' && isDigit(source[i + 1]))) {
        const { value, end } = readNumber(source, i, fail);
        tokens.push({ kind: 'number', value, at: i });
        i = end;
      } else if (isIdentStart(ch)) {
        const name = readIdent(source, i)!;
        if (source[i + name.length] === '.' && isIdentStart(source[i + name.length + 1])) {
          const { end } = readPath(source, i, fail);
          fail(`paths start with a dot`, i, `write .${source.slice(i, end)}`);
        }
        tokens.push({ kind: 'ident', name, at: i });
        i += name.length;
      } else if (ch === '|') {
        if (source[i + 1] === '|')
          fail('"||" is not a template operator', i, 'pipe into a filter with a single |');
        tokens.push({ kind: 'pipe', at: i });
        i++;
      } else if (ch === '(' || ch === ')') {
        tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', at: i });
        i++;
      } else {
        fail(`unexpected ${JSON.stringify(ch)}`, i, this.#hintFor(ch, i));
      }
    }
  }

  #hintFor(ch: string, i: number): string {
    const source = this.#source;
    if (ch === '`') return 'strings use double quotes: "text"';
    if (ch === "'") return 'strings use double quotes: "text"';
    if (ch === '$')
      return 'variables and $-placeholders are not supported; read event data with a path like .data.service';
    if (ch === ',') return 'filter arguments are separated by spaces: | replace "a" "b"';
    if (ch === '=' || (ch === ':' && source[i + 1] === '='))
      return 'templates cannot assign; they only read values';
    if (ch === '{' || ch === '}') return 'close each {{ with }} before opening another';
    if (ch === '[' || ch === ']') return 'index lists with .list.0 or index .list 0';
    return 'an action holds a path (.data.service), literals and | filters';
  }

  #peek(): Token {
    return this.#tokens[this.#pos]!;
  }

  #next(): Token {
    return this.#tokens[this.#pos++]!;
  }

  #pipeline(): Expr {
    const first = this.#peek();
    if (first.kind === 'close' || first.kind === 'rparen' || first.kind === 'pipe') {
      this.#fail('expected a value', first.at, 'write a path like .data.service, a "string" or a number');
    }
    const { head, stages } = this.#command();
    while (this.#peek().kind === 'pipe') {
      this.#next();
      stages.push(this.#stage());
    }
    return stages.length === 0 ? head : { kind: 'pipeline', head, stages, at: first.at };
  }

  /** The first command: a value, or a Go-style call `lower .x` / `index .list 0`. */
  #command(): { head: Expr; stages: Stage[] } {
    const token = this.#peek();
    if (token.kind !== 'ident' || isLiteralName(token.name)) {
      const head = this.#arg();
      const after = this.#peek();
      if (after.kind !== 'pipe' && after.kind !== 'close' && after.kind !== 'rparen')
        this.#unexpected(after, head);
      return { head, stages: [] };
    }
    this.#next();
    const args = this.#args();
    if (token.name === 'index') {
      if (args.length < 2)
        this.#fail('index needs a list or object and at least one key', token.at, 'index .data.issueKeys 0');
      return { head: args[0]!, stages: [{ kind: 'index', keys: args.slice(1), at: token.at }] };
    }
    const filter = this.#filter(token, true);
    if (args.length !== filter.args.length + 1) {
      this.#fail(
        `${filter.name} called with ${args.length} argument(s); it takes ${filter.args.length + 1} with the value last`,
        token.at,
        `pipe the value into it instead: {{ .path ${filter.usage} }}`,
      );
    }
    return { head: args[args.length - 1]!, stages: [this.#filterStage(filter, args.slice(0, -1), token.at)] };
  }

  #stage(): Stage {
    const token = this.#next();
    if (token.kind !== 'ident')
      this.#fail('expected a filter name after "|"', token.at, `filters: ${FILTER_LIST}`);
    const args = this.#args();
    if (token.name === 'index') {
      if (args.length === 0) this.#fail('index needs at least one key', token.at, '| index 0');
      return { kind: 'index', keys: args, at: token.at };
    }
    const filter = this.#filter(token);
    if (args.length !== filter.args.length) {
      this.#fail(
        `${filter.name} takes ${filter.args.length} argument(s), got ${args.length}`,
        token.at,
        `write ${filter.usage}`,
      );
    }
    return this.#filterStage(filter, args, token.at);
  }

  #filter(token: { name: string; at: number }, first = false): FilterSpec {
    const filter = FILTERS.get(token.name);
    if (filter !== undefined) return filter;
    if (GO_KEYWORDS.has(token.name)) {
      this.#fail(
        `"${token.name}" is not supported`,
        token.at,
        'templates only substitute values; put conditions in the rule\'s "if:"',
      );
    }
    return this.#fail(
      `unknown filter or function "${token.name}"`,
      token.at,
      first ? `filters: ${FILTER_LIST}; paths start with a dot (.${token.name})` : `filters: ${FILTER_LIST}`,
    );
  }

  #filterStage(filter: FilterSpec, args: Expr[], at: number): Stage {
    let prepared: { value: unknown } | undefined;
    if (args.every((a) => a.kind === 'literal')) {
      try {
        prepared = { value: filter.prepare(args.map((a) => (a as { value: unknown }).value)) };
      } catch (error) {
        if (!(error instanceof FilterInputError)) throw error;
        this.#fail(error.message, at, error.fix ?? `write ${filter.usage}`);
      }
    }
    return { kind: 'filter', filter, args, prepared, at };
  }

  #args(): Expr[] {
    const args: Expr[] = [];
    for (;;) {
      const token = this.#peek();
      if (token.kind === 'pipe' || token.kind === 'close' || token.kind === 'rparen') return args;
      args.push(this.#arg());
    }
  }

  #arg(): Expr {
    const token = this.#next();
    switch (token.kind) {
      case 'path':
        return { kind: 'path', segments: token.segments, text: pathText(token.segments), at: token.at };
      case 'string':
      case 'number':
        return { kind: 'literal', value: token.value, at: token.at };
      case 'ident':
        if (isLiteralName(token.name))
          return { kind: 'literal', value: literalValue(token.name), at: token.at };
        return this.#fail(
          `"${token.name}" cannot be an argument`,
          token.at,
          FILTERS.has(token.name) || token.name === 'index'
            ? `wrap a call in parentheses: (${token.name} …)`
            : `paths start with a dot: .${token.name}`,
        );
      case 'lparen': {
        if (this.#peek().kind === 'rparen')
          this.#fail('empty parentheses', token.at, 'functions are not called with (); use | filters');
        if (++this.#depth > MAX_DEPTH) this.#fail(`more than ${MAX_DEPTH} nested parentheses`, token.at);
        const inner = this.#pipeline();
        this.#depth--;
        const close = this.#next();
        if (close.kind !== 'rparen')
          this.#fail('expected ")"', close.at, `close the "(" at column ${token.at + 1}`);
        return inner;
      }
      default:
        return this.#fail(
          'expected a value',
          token.at,
          'write a path like .data.service, a "string" or a number',
        );
    }
  }

  #unexpected(token: Token, after: Expr): never {
    if (token.kind === 'lparen') {
      this.#fail(
        'function calls are not supported',
        token.at,
        'apply a filter with |, e.g. {{ .issue.key | lower }}',
      );
    }
    if (token.kind === 'rparen')
      this.#fail('unmatched ")"', token.at, 'remove it, or open a group with "(" before it');
    const what = after.kind === 'path' ? after.text : 'a value';
    return this.#fail(
      `unexpected ${describeToken(token)} after ${what}`,
      token.at,
      'apply filters with |, e.g. | default "x"',
    );
  }
}

function describeToken(token: Token): string {
  switch (token.kind) {
    case 'path':
      return `path ${pathText(token.segments)}`;
    case 'string':
      return 'string';
    case 'number':
      return `number ${token.value}`;
    case 'ident':
      return `"${token.name}"`;
    default:
      return token.kind;
  }
}

const isLiteralName = (name: string) => name === 'true' || name === 'false' || name === 'null';
const literalValue = (name: string) => (name === 'null' ? null : name === 'true');

class CompiledTemplate implements Template {
  readonly source: string;
  readonly paths: string[];
  readonly #where: string | undefined;
  readonly #nodes: Node[];
  readonly #raw: boolean;

  constructor(source: string, where: string | undefined, nodes: Node[], paths: string[]) {
    this.source = source;
    this.paths = paths;
    this.#where = where;
    this.#nodes = nodes;
    this.#raw =
      nodes.length === 1 && nodes[0]!.kind === 'action' && source.startsWith('{{') && source.endsWith('}}');
  }

  render(scope: Record<string, unknown>): unknown {
    try {
      if (this.#raw) return toData(this.#required((this.#nodes[0] as { expr: Expr }).expr, scope));
      let out = '';
      for (const node of this.#nodes)
        out += node.kind === 'text' ? node.text : toText(this.#required(node.expr, scope));
      return out;
    } catch (error) {
      if (error instanceof DataShapeError) throw this.#error(ErrorCodes.TEMPLATE_FILTER, error.message, 0);
      throw error;
    }
  }

  #error(code: string, problem: string, offset: number, extra: Partial<SourceErrorInit> = {}): TemplateError {
    return new TemplateError(code, problem, { source: this.source, where: this.#where, offset, ...extra });
  }

  /** Evaluates where a value must exist: a missing path here is an error naming it. */
  #required(expr: Expr, scope: Record<string, unknown>): unknown {
    const value = this.#eval(expr, scope);
    if (!isMissing(value)) return value;
    throw this.#error(
      ErrorCodes.TEMPLATE_MISSING_PATH,
      `path ${value.path} is missing: ${value.reason}`,
      value.at ?? expr.at,
      {
        fix: `check the path against the event, or give a fallback: {{ ${value.path} | default "…" }}`,
        details: { path: value.path },
      },
    );
  }

  #eval(expr: Expr, scope: Record<string, unknown>): unknown {
    switch (expr.kind) {
      case 'literal':
        return expr.value;
      case 'path': {
        const value = lookup(scope, expr.segments);
        return isMissing(value) ? new Missing(value.path, value.reason, expr.at) : value;
      }
      case 'pipeline': {
        let value = this.#eval(expr.head, scope);
        const label = expr.head.kind === 'path' ? expr.head.text : 'the value';
        for (const stage of expr.stages) {
          if (stage.kind === 'index') {
            if (isMissing(value)) continue;
            value = this.#index(value, label, stage, scope);
            continue;
          }
          // A missing value passes through filters untouched until `default` catches it or the
          // end of the pipeline reports it, so `| lower | default "x"` works as people expect.
          if (isMissing(value) && !stage.filter.catchesMissing) continue;
          value = this.#apply(stage, value, scope);
        }
        return value;
      }
    }
  }

  #index(
    value: unknown,
    label: string,
    stage: Extract<Stage, { kind: 'index' }>,
    scope: Record<string, unknown>,
  ) {
    let current = value;
    let at = label;
    for (const keyExpr of stage.keys) {
      const key = this.#required(keyExpr, scope);
      if (typeof key !== 'string' && typeof key !== 'number') {
        throw this.#error(
          ErrorCodes.TEMPLATE_FILTER,
          `index keys are numbers or strings, got ${typeName(key)}`,
          keyExpr.at,
        );
      }
      const next = `${at}[${JSON.stringify(key)}]`;
      current = step(current, key, at, next);
      if (isMissing(current)) return new Missing(current.path, current.reason, stage.at);
      at = next;
    }
    return current;
  }

  #apply(stage: Extract<Stage, { kind: 'filter' }>, value: unknown, scope: Record<string, unknown>): unknown {
    try {
      const prepared = stage.prepared ?? {
        value: stage.filter.prepare(stage.args.map((a) => this.#required(a, scope))),
      };
      return stage.filter.apply(value, prepared.value);
    } catch (error) {
      if (error instanceof FilterInputError) {
        throw this.#error(ErrorCodes.TEMPLATE_FILTER, error.message, stage.at, {
          fix: error.fix ?? `write ${stage.filter.usage}`,
          details: { filter: stage.filter.name },
        });
      }
      throw error;
    }
  }
}
