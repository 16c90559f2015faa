// Errors of the template and condition engine. Each one names where the text came from (a config
// path such as `rules[0].do[1].with.branch`), the text itself, the line and column, and the fix, so a
// person reading `switchyard check` output can correct the YAML without reading this code.
import { ErrorCodes, PermanentError } from '../errors.js';

export interface SourcePosition {
  /** 0-based offset into the source text. */
  offset: number;
  /** 1-based line. */
  line: number;
  /** 1-based column (UTF-16 code units, as editors count them for BMP text). */
  column: number;
}

export interface SourceErrorInit {
  source: string;
  where?: string | undefined;
  /** Offset of the offending text; omitted for errors about the text as a whole. */
  offset?: number | undefined;
  /** One sentence telling the person what to change. */
  fix?: string | undefined;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export function positionOf(source: string, offset: number): SourcePosition {
  const clamped = Math.max(0, Math.min(offset, source.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < clamped; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset: clamped, line, column: clamped - lineStart + 1 };
}

// Long texts are cut to a window around the column so the caret still lines up and a page-long
// Jira comment template does not flood the terminal.
const WINDOW = 100;

function excerpt(source: string, pos: SourcePosition): string {
  const lines = source.split('\n');
  const text = lines[pos.line - 1] ?? '';
  let start = 0;
  if (text.length > WINDOW) start = Math.max(0, Math.min(pos.column - 1 - WINDOW / 2, text.length - WINDOW));
  const shown = text.slice(start, start + WINDOW);
  const prefix = start > 0 ? '…' : '';
  const suffix = start + WINDOW < text.length ? '…' : '';
  const caret = ' '.repeat(prefix.length + pos.column - 1 - start);
  return `  ${prefix}${shown}${suffix}\n  ${caret}^`;
}

function describe(kind: string, problem: string, init: SourceErrorInit, pos: SourcePosition | undefined) {
  const place = init.where ? `${init.where}: ` : '';
  const at =
    pos === undefined
      ? ''
      : init.source.includes('\n')
        ? ` (line ${pos.line}, column ${pos.column})`
        : ` (column ${pos.column})`;
  const fix = init.fix ? `\n  Fix: ${init.fix}` : '';
  const shown = pos === undefined ? `\n  ${JSON.stringify(init.source)}` : `\n${excerpt(init.source, pos)}`;
  return `${place}${kind} ${problem}${at}${shown}${fix}`;
}

/** A template that does not parse, or that failed while rendering. */
export class TemplateError extends PermanentError {
  readonly source: string;
  readonly where: string | undefined;
  readonly position: SourcePosition | undefined;

  constructor(code: string, problem: string, init: SourceErrorInit) {
    const pos = init.offset === undefined ? undefined : positionOf(init.source, init.offset);
    super(code, describe('template', problem, init, pos), {
      details: {
        where: init.where,
        template: init.source,
        line: pos?.line,
        column: pos?.column,
        ...init.details,
      },
      cause: init.cause,
    });
    this.name = 'TemplateError';
    this.source = init.source;
    this.where = init.where;
    this.position = pos;
  }
}

/** A condition (`if:`) that does not parse or cannot be evaluated. */
export class ConditionError extends PermanentError {
  readonly source: string;
  readonly where: string | undefined;
  readonly position: SourcePosition | undefined;

  constructor(code: string, problem: string, init: SourceErrorInit) {
    const pos = init.offset === undefined ? undefined : positionOf(init.source, init.offset);
    super(code, describe('condition', problem, init, pos), {
      details: {
        where: init.where,
        condition: init.source,
        line: pos?.line,
        column: pos?.column,
        ...init.details,
      },
      cause: init.cause,
    });
    this.name = 'ConditionError';
    this.source = init.source;
    this.where = init.where;
    this.position = pos;
  }
}

export const templateSyntax = (problem: string, init: SourceErrorInit) =>
  new TemplateError(ErrorCodes.TEMPLATE_SYNTAX, problem, init);
export const conditionSyntax = (problem: string, init: SourceErrorInit) =>
  new ConditionError(ErrorCodes.CONDITION_SYNTAX, problem, init);
