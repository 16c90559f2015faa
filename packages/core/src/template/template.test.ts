import { describe, expect, it } from 'vitest';
import { isSwitchyardError } from '../errors.js';
import { compileTemplate, isTemplated, renderTemplate, TemplateError } from './index.js';

const scope = {
  issue: {
    key: 'PROJ-123',
    fields: { customfield_10001: '/tmp/repo.git', summary: 'Add login', priority: null },
  },
  data: {
    service: 'payments',
    environment: 'production',
    issueKeys: ['PROJ-1', 'PROJ-2'],
    replicas: 3,
    healthy: true,
    labels: { team: 'core', 'odd-key': 'v' },
  },
};

/** The error a function throws, asserted to be a TemplateError. */
function caught(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    expect(isSwitchyardError(error)).toBe(true);
    return error as TemplateError;
  }
  throw new Error('expected a TemplateError, nothing was thrown');
}

describe('paths', () => {
  it.each([
    ['{{ .data.service }}', 'payments'],
    ['{{.data.service}}', 'payments'],
    ['{{ .issue.fields.customfield_10001 }}', '/tmp/repo.git'],
    ['{{ .data.issueKeys.0 }}', 'PROJ-1'],
    ['{{ .data.issueKeys.1 }}', 'PROJ-2'],
    ['{{ index .data.issueKeys 1 }}', 'PROJ-2'],
    ['{{ .data.issueKeys | index 0 }}', 'PROJ-1'],
    ['{{ index .data.labels "odd-key" }}', 'v'],
    ['{{ index .data "labels" "team" }}', 'core'],
  ])('%s → %s', (source, expected) => {
    expect(renderTemplate(source, scope)).toBe(expected);
  });

  it('lists every path it reads, once, in order', () => {
    const t = compileTemplate('{{ .a.b }}-{{ .c | default .d }}-{{ .a.b }}-{{ . | json }}');
    expect(t.paths).toEqual(['.a.b', '.c', '.d', '.']);
    expect(t.source).toBe('{{ .a.b }}-{{ .c | default .d }}-{{ .a.b }}-{{ . | json }}');
  });

  it('`.` alone is the whole scope', () => {
    expect(renderTemplate('{{ . }}', { a: 1 })).toEqual({ a: 1 });
  });
});

describe('raw value rule', () => {
  it('a string that is exactly one action yields the value itself', () => {
    expect(renderTemplate('{{ .data.issueKeys }}', scope)).toEqual(['PROJ-1', 'PROJ-2']);
    expect(renderTemplate('{{ .data.replicas }}', scope)).toBe(3);
    expect(renderTemplate('{{ .data.healthy }}', scope)).toBe(true);
    expect(renderTemplate('{{ .issue.fields.priority }}', scope)).toBeNull();
    expect(renderTemplate('{{ .data.labels }}', scope)).toEqual({ team: 'core', 'odd-key': 'v' });
    expect(renderTemplate('{{ 42 }}', scope)).toBe(42);
    expect(renderTemplate('{{- .data.replicas -}}', scope)).toBe(3);
  });

  it('returns a copy, never the scope’s own object', () => {
    const keys = renderTemplate('{{ .data.issueKeys }}', scope) as string[];
    expect(keys).not.toBe(scope.data.issueKeys);
    keys.push('PROJ-3');
    expect(scope.data.issueKeys).toEqual(['PROJ-1', 'PROJ-2']);
  });

  it('anything around the action makes it a string; lists and objects become JSON, null ""', () => {
    expect(renderTemplate(' {{ .data.replicas }}', scope)).toBe(' 3');
    expect(renderTemplate('{{ .data.replicas }} ', scope)).toBe('3 ');
    expect(renderTemplate('{{ .data.replicas }}{{ .data.replicas }}', scope)).toBe('33');
    expect(renderTemplate('keys={{ .data.issueKeys }}', scope)).toBe('keys=["PROJ-1","PROJ-2"]');
    expect(renderTemplate('l={{ .data.labels }}', scope)).toBe('l={"team":"core","odd-key":"v"}');
    expect(renderTemplate('p={{ .issue.fields.priority }}', scope)).toBe('p=');
    expect(renderTemplate('{{ .data.healthy }}!', scope)).toBe('true!');
  });

  it('text without actions, and text with stray }}, is returned as written', () => {
    expect(renderTemplate('plain', scope)).toBe('plain');
    expect(renderTemplate('a }} b', scope)).toBe('a }} b');
    expect(renderTemplate('', scope)).toBe('');
  });
});

describe('literals', () => {
  it('double-quoted strings with escapes, numbers, true/false/null', () => {
    expect(renderTemplate('{{ "a\\"b\\\\c\\n\\t\\u00e9" }}', {})).toBe('a"b\\c\n\té');
    expect(renderTemplate('{{ "{{ not an action }}" }}', {})).toBe('{{ not an action }}');
    expect(renderTemplate('{{ -1.5 }}', {})).toBe(-1.5);
    expect(renderTemplate('{{ 2e3 }}', {})).toBe(2000);
    expect(renderTemplate('{{ true }}', {})).toBe(true);
    expect(renderTemplate('{{ false }}', {})).toBe(false);
    expect(renderTemplate('{{ null }}', {})).toBeNull();
  });
});

describe('trim markers and comments', () => {
  it('{{- trims before, -}} trims after', () => {
    expect(renderTemplate('a  \n {{- .data.service -}} \n  b', scope)).toBe('apaymentsb');
    expect(renderTemplate('a  {{- .data.service }}  b', scope)).toBe('apayments  b');
    expect(renderTemplate('a  {{ .data.service -}}  b', scope)).toBe('a  paymentsb');
  });

  it('{{-3}} is a negative number, not a trim marker (as in Go)', () => {
    expect(renderTemplate('x{{-3}}', {})).toBe('x-3');
  });

  it('{{/* comments */}} render nothing', () => {
    expect(renderTemplate('a{{/* why */}}b', {})).toBe('ab');
    expect(renderTemplate('a {{- /* why */ -}} b', {})).toBe('ab');
  });
});

describe('missing paths', () => {
  it('are errors naming the path, the template and where it is', () => {
    const error = caught(() => renderTemplate('feature/{{ .issue.kee }}', scope, 'pipelines[0].branch'));
    expect(error.code).toBe('SY_TEMPLATE_MISSING_PATH');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('pipelines[0].branch');
    expect(error.message).toContain('path .issue.kee is missing');
    expect(error.message).toContain('.issue has no key "kee" (it has: key, fields)');
    expect(error.message).toContain('feature/{{ .issue.kee }}');
    expect(error.message).toContain('| default');
    expect(error.position?.column).toBe(12);
    expect(error.details).toMatchObject({ path: '.issue.kee', where: 'pipelines[0].branch' });
  });

  it.each([
    ['{{ .nope }}', 'the scope has no key "nope"'],
    ['{{ .data.issueKeys.5 }}', '.data.issueKeys has 2 item(s), so there is no index 5'],
    ['{{ .data.issueKeys.x }}', '.data.issueKeys is a list, so it is indexed by number, not "x"'],
    ['{{ .data.service.name }}', '.data.service is a string, so it has no "name"'],
    ['{{ .issue.fields.priority.name }}', '.issue.fields.priority is null, so it has no "name"'],
    ['{{ index .data.issueKeys 9 }}', 'no index 9'],
    ['{{ .data.service | lower | upper }}{{ .x | lower }}', 'the scope has no key "x"'],
  ])('%s: %s', (source, reason) => {
    const error = caught(() => renderTemplate(source, scope));
    expect(error.code).toBe('SY_TEMPLATE_MISSING_PATH');
    expect(error.message).toContain(reason);
  });

  it('is never an empty string in interpolation', () => {
    expect(() => renderTemplate('dev-{{ .issue.nope }}', scope)).toThrow(/missing/);
  });

  it('`default` catches a missing path, also after other filters', () => {
    expect(renderTemplate('{{ .issue.nope | default "x" }}', scope)).toBe('x');
    expect(renderTemplate('{{ .issue.nope | lower | default "x" }}', scope)).toBe('x');
    expect(renderTemplate('{{ default "x" .issue.nope }}', scope)).toBe('x');
    expect(renderTemplate('{{ .data.issueKeys | index 7 | default "none" }}', scope)).toBe('none');
    expect(renderTemplate('{{ .a.b.c | default .data.service }}', scope)).toBe('payments');
  });

  it('a missing fallback of default is still an error', () => {
    expect(caught(() => renderTemplate('{{ .a | default .b }}', scope)).message).toContain(
      'path .b is missing',
    );
  });
});

describe('syntax errors carry the column and a fix', () => {
  it.each([
    ['{{ .issue.key', 1, 'unclosed {{'],
    ['ab{{ .issue.key | lowr }}', 19, 'unknown filter or function "lowr"'],
    ['{{ .issue.key | }}', 17, 'expected a filter name'],
    ['{{ }}', 4, 'expected a value'],
    ['{{ issue.key }}', 4, 'paths start with a dot'],
    ['{{ .issue..key }}', 11, 'expected a key name'],
    ['{{ "abc }}', 4, 'unterminated string'],
    ['{{ "a\\q" }}', 6, 'unknown escape'],
    ['{{ .a .b }}', 7, 'unexpected path .b after .a'],
    ['{{ .a | replace "x" }}', 9, 'replace takes 2 argument(s), got 1'],
    ['{{ .a | truncate "x" }}', 9, 'truncate: argument 1 must be a whole number'],
    ['{{ .a | truncate -1 }}', 9, 'truncate: argument 1 must be a whole number'],
    ['{{ .a | date "yyyy-MM-dd" }}', 9, 'unknown date token "yyyy"'],
    ['{{ .a | replace "" "x" }}', 9, 'cannot be empty'],
    ['{{ lower }}', 4, 'lower called with 0 argument(s)'],
    ['{{ index .a }}', 4, 'index needs'],
    ['{{ if .a }}x{{ end }}', 4, '"if" is not supported'],
    ['{{ .a, .b }}', 6, 'unexpected ","'],
    ["{{ 'x' }}", 4, 'unexpected "\'"'],
    ['{{ .a ) }}', 7, 'unmatched ")"'],
    ['{{ (.a }}', 8, 'expected ")"'],
    ['{{ .a }}{{ .b', 9, 'unclosed {{'],
    ['{{ 12ab }}', 4, 'malformed number'],
    ['{{ .a | lower .b }}', 9, 'lower takes 0 argument(s), got 1'],
    ['{{ .a | default lower }}', 17, 'wrap a call in parentheses'],
    ['{{ .a-}}', 6, '"-}}" needs a space'],
    ['{{/* x }}', 1, 'unclosed comment'],
  ])('%s → column %i: %s', (source, column, problem) => {
    const error = caught(() => compileTemplate(source, 'rules[0].with.x'));
    expect(error.code).toBe('SY_TEMPLATE_SYNTAX');
    expect(error.position?.column).toBe(column);
    expect(error.message).toContain(problem);
    expect(error.message).toContain('rules[0].with.x: template');
    expect(error.message).toContain(`(column ${column})`);
    expect(error.message).toContain('Fix: ');
  });

  it('lists the filters for an unknown one', () => {
    const error = caught(() => compileTemplate('{{ .a | slugify }}'));
    expect(error.message).toContain(
      'Fix: filters: date, default, index, join, json, lower, replace, trim, truncate, upper',
    );
    expect(error.message).not.toContain('paths start with a dot');
    expect(caught(() => compileTemplate('{{ data }}')).message).toContain('paths start with a dot (.data)');
  });

  it('draws a caret under the column', () => {
    const error = caught(() => compileTemplate('dev-{{ .issue.key | lowr }}'));
    expect(error.message).toContain('  dev-{{ .issue.key | lowr }}\n                      ^');
  });

  it('gives line and column in a multi-line template', () => {
    const error = caught(() => compileTemplate('Deployed\n{{ .data.service | nope }}\n'));
    expect(error.position).toMatchObject({ line: 2, column: 20 });
    expect(error.message).toContain('(line 2, column 20)');
  });

  it('cuts a very long line around the column', () => {
    const error = caught(() => compileTemplate(`${'x'.repeat(500)}{{ .a | nope }}${'y'.repeat(500)}`));
    const shown = error.message.split('\n')[1]!;
    expect(shown.length).toBeLessThan(110);
    expect(shown).toContain('| nope');
  });

  it('refuses a non-string source with a clear error', () => {
    expect(caught(() => compileTemplate(42 as unknown as string)).message).toContain('must be a string');
  });
});

describe('isTemplated', () => {
  it('is true for anything holding {{, so an unclosed action is reported rather than passed through', () => {
    expect(isTemplated('{{ .a }}')).toBe(true);
    expect(isTemplated('x {{ .a')).toBe(true);
    expect(isTemplated('plain')).toBe(false);
    expect(isTemplated('a } } b {')).toBe(false);
  });
});

describe('the seed pipeline (issue 9) renders against an IssueTransitioned-like scope', () => {
  const seedScope = { issue: { key: 'PROJ-123', fields: { customfield_10001: '/tmp/repo.git' } } };
  it.each([
    ['{{ .issue.fields.customfield_10001 }}', '/tmp/repo.git'],
    ['feature/{{ .issue.key }}', 'feature/PROJ-123'],
    ['dev-{{ .issue.key | lower }}', 'dev-proj-123'],
    ['{{ .issue.key }}', 'PROJ-123'],
    ['k8s/dev/', 'k8s/dev/'],
    ['In Development', 'In Development'],
  ])('%s → %s', (source, expected) => {
    expect(renderTemplate(source, seedScope)).toBe(expected);
  });
});
