import { describe, expect, it } from 'vitest';
import { renderTemplate, TemplateError } from './index.js';

const scope = {
  s: '  Hello World  ',
  key: 'PROJ-123',
  n: 42,
  yes: true,
  no: false,
  zero: 0,
  empty: '',
  nil: null,
  list: ['a', 'b', 3, null, { x: 1 }],
  names: ['api', 'web'],
  obj: { a: [1, 2], b: 'c' },
  iso: '2026-11-26T18:05:09.123Z',
  isoOffset: '2026-11-26T01:30:00+02:00',
  isoLocal: '2026-11-26T18:05:09',
  day: '2026-02-28',
  epoch: Date.UTC(2026, 10, 26, 18, 5, 9, 7),
  emoji: 'ab😀cd',
};

const render = (source: string) => renderTemplate(source, scope);

function renderError(source: string): TemplateError {
  try {
    render(source);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return error as TemplateError;
  }
  throw new Error('expected an error');
}

describe('text filters', () => {
  it.each([
    ['{{ .key | lower }}', 'proj-123'],
    ['{{ .key | upper }}', 'PROJ-123'],
    ['{{ "MiXeD" | upper }}', 'MIXED'],
    ['{{ .s | trim }}', 'Hello World'],
    ['{{ .s | trim | lower }}', 'hello world'],
    ['{{ .n | lower }}', '42'],
    ['{{ .yes | upper }}', 'TRUE'],
    ['{{ lower .key }}', 'proj-123'],
    ['{{ lower (upper .key) }}', 'proj-123'],
  ])('%s → %s', (source, expected) => expect(render(source)).toBe(expected));

  it('refuse lists and objects with a hint', () => {
    const error = renderError('{{ .names | lower }}');
    expect(error.code).toBe('SY_TEMPLATE_FILTER');
    expect(error.message).toContain('lower expects text, got a list');
    expect(error.message).toContain('join the list first');
    expect(error.position?.column).toBe(13);
    expect(renderError('{{ .obj | trim }}').message).toContain('trim expects text, got an object');
    expect(renderError('{{ .nil | upper }}').message).toContain('upper expects text, got null');
  });
});

describe('default', () => {
  it.each([
    ['{{ .missing | default "x" }}', 'x'],
    ['{{ .nil | default "x" }}', 'x'],
    ['{{ .empty | default "x" }}', 'x'],
    ['{{ .zero | default 5 }}', 0],
    ['{{ .no | default true }}', false],
    ['{{ .key | default "x" }}', 'PROJ-123'],
    ['{{ .missing | default .names }}', ['api', 'web']],
    ['{{ .missing | default 7 }}', 7],
    ['{{ .missing | default null }}', null],
    ['{{ .missing.deeper.still | default "x" }}', 'x'],
    ['{{ default "x" .missing }}', 'x'],
    ['id-{{ .missing | default "none" }}', 'id-none'],
  ])('%s → %j', (source, expected) => expect(render(source)).toEqual(expected));
});

describe('join', () => {
  it.each([
    ['{{ .names | join ", " }}', 'api, web'],
    ['{{ .list | join "|" }}', 'a|b|3||{"x":1}'],
    ['{{ .names | join "" }}', 'apiweb'],
  ])('%s → %s', (source, expected) => expect(render(source)).toBe(expected));

  it('needs a list', () => {
    expect(renderError('{{ .key | join "," }}').message).toContain('join expects a list, got a string');
  });

  it('checks a separator that comes from a path at render time', () => {
    expect(renderTemplate('{{ .names | join .sep }}', { names: ['a', 'b'], sep: '+' })).toBe('a+b');
    const error = renderError('{{ .names | join .n }}');
    expect(error.code).toBe('SY_TEMPLATE_FILTER');
    expect(error.message).toContain('join: argument 1 must be a string, got a number');
  });
});

describe('json', () => {
  it.each([
    ['{{ .obj | json }}', '{"a":[1,2],"b":"c"}'],
    ['{{ .names | json }}', '["api","web"]'],
    ['{{ .key | json }}', '"PROJ-123"'],
    ['{{ .n | json }}', '42'],
    ['{{ .nil | json }}', 'null'],
    ['text {{ .key | json }}', 'text "PROJ-123"'],
  ])('%s → %s', (source, expected) => expect(render(source)).toBe(expected));
});

describe('replace', () => {
  it.each([
    ['{{ .key | replace "-" "_" }}', 'PROJ_123'],
    ['{{ "a.b.c" | replace "." "/" }}', 'a/b/c'],
    ['{{ "aaa" | replace "a" "$&$&" }}', '$&$&$&$&$&$&'],
    ['{{ "x" | replace "y" "z" }}', 'x'],
    ['{{ .key | replace "PROJ-" "" | lower }}', '123'],
  ])('%s → %s (plain text, never a pattern)', (source, expected) => expect(render(source)).toBe(expected));
});

describe('truncate', () => {
  it.each([
    ['{{ .key | truncate 4 }}', 'PROJ'],
    ['{{ .key | truncate 20 }}', 'PROJ-123'],
    ['{{ .key | truncate 0 }}', ''],
    ['{{ .emoji | truncate 3 }}', 'ab😀'],
  ])('%s → %s', (source, expected) => expect(render(source)).toBe(expected));
});

describe('date', () => {
  it.each([
    ['{{ .iso | date "YYYY-MM-DD" }}', '2026-11-26'],
    ['{{ .iso | date "YYYY-MM-DDTHH:mm:ss.SSSZ" }}', '2026-11-26T18:05:09.123Z'],
    ['{{ .iso | date "DD/MM/YYYY HH:mm" }}', '26/11/2026 18:05'],
    ['{{ .iso | date "[week of] YYYY-MM-DD" }}', 'week of 2026-11-26'],
    ['{{ .isoOffset | date "YYYY-MM-DD HH:mm" }}', '2026-11-25 23:30'],
    ['{{ .isoLocal | date "HH:mm:ss" }}', '18:05:09'],
    ['{{ .day | date "YYYYMMDD" }}', '20260228'],
    ['{{ .epoch | date "YYYY-MM-DD HH:mm:ss.SSS" }}', '2026-11-26 18:05:09.007'],
    ['{{ 0 | date "YYYY" }}', '1970'],
  ])('%s → %s (UTC)', (source, expected) => expect(render(source)).toBe(expected));

  it.each([
    ['{{ "26/11/2026" | date "YYYY" }}', 'date cannot read "26/11/2026"'],
    ['{{ "2026-02-30" | date "YYYY" }}', 'date "2026-02-30" does not exist'],
    ['{{ "2026-11-26T25:00" | date "YYYY" }}', 'does not exist'],
    ['{{ .names | date "YYYY" }}', 'date expects an ISO 8601 string or epoch milliseconds'],
    ['{{ 1e20 | date "YYYY" }}', 'within the range of a date'],
  ])('%s fails: %s', (source, problem) => {
    const error = renderError(source);
    expect(error.code).toBe('SY_TEMPLATE_FILTER');
    expect(error.message).toContain(problem);
  });

  it('rejects unknown tokens and unclosed brackets at compile time', () => {
    expect(renderError('{{ .iso | date "YYYY-MM-DD hh" }}').message).toContain('unknown date token "hh"');
    expect(renderError('{{ .iso | date "[at" }}').message).toContain('unclosed "["');
  });
});

describe('index', () => {
  it('reads lists by number and objects by key, in both call forms', () => {
    expect(render('{{ index .names 1 }}')).toBe('web');
    expect(render('{{ .names | index 0 }}')).toBe('api');
    expect(render('{{ index .obj "a" 1 }}')).toBe(2);
    expect(render('{{ .obj | index "a" 0 }}')).toBe(1);
    expect(render('{{ index .names .zero }}')).toBe('api');
  });

  it('refuses keys that are not strings or numbers', () => {
    const error = renderError('{{ index .names .names }}');
    expect(error.code).toBe('SY_TEMPLATE_FILTER');
    expect(error.message).toContain('index keys are numbers or strings, got a list');
  });
});
