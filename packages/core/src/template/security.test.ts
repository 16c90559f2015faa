import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConditionError,
  compileCondition,
  compileTemplate,
  compileValue,
  renderTemplate,
  TemplateError,
} from './index.js';

const scope = { data: { service: 'api', list: [1, 2] }, issue: { key: 'PROJ-1' } };

function refusedAtCompile(source: string): TemplateError {
  try {
    compileTemplate(source);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    expect((error as TemplateError).code).toBe('SY_TEMPLATE_SYNTAX');
    return error as TemplateError;
  }
  throw new Error(`expected ${source} to be refused`);
}

describe('templates run no code', () => {
  it.each([
    '{{ constructor.constructor("return process")() }}',
    '{{ .constructor.constructor "return process" }}',
    '{{ .__proto__ }}',
    '{{ .data.__proto__.polluted }}',
    '{{ .data.prototype }}',
    '{{ index .data "x" | constructor }}',
    '{{ .data.service.toString() }}',
    '{{ .data.service() }}',
    '{{ process.env.HOME }}',
    '{{ `whoami` }}',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a JavaScript-style placeholder is the injection attempt under test
    '{{ ${process.exit(1)} }}',
    '{{ $x := 1 }}',
    '{{ require "fs" }}',
    '{{ import("fs") }}',
    '{{ this }}',
    '{{ globalThis }}',
    '{{ eval "1" }}',
    '{{ .data.list | constructor }}',
    '{{ .data.list | __proto__ }}',
    '{{ printf "%s" .data }}',
    '{{ call .data.fn }}',
    '{{ template "x" }}',
  ])('%s is refused at compile time', (source) => {
    refusedAtCompile(source);
  });

  it('text outside an action is never evaluated', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a JavaScript-style placeholder is the injection attempt under test
    expect(renderTemplate('${process.exit(1)} `id` {{ .issue.key }}', scope)).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a JavaScript-style placeholder is the injection attempt under test
      '${process.exit(1)} `id` PROJ-1',
    );
  });

  it('prototype keys reached through index resolve to missing', () => {
    for (const key of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'length']) {
      const t = compileTemplate('{{ index .data .key }}');
      expect(() => t.render({ data: { service: 'x' }, key })).toThrow(
        expect.objectContaining({ code: 'SY_TEMPLATE_MISSING_PATH' }),
      );
      expect(compileTemplate('{{ index .data .key | default "safe" }}').render({ data: {}, key })).toBe(
        'safe',
      );
    }
    expect(() => renderTemplate('{{ .data.list | index "length" }}', scope)).toThrow(/indexed by number/);
  });

  it('an own __proto__ key from JSON.parse is not followed either', () => {
    const parsed = JSON.parse('{"data": {"__proto__": {"polluted": "yes"}}}');
    expect(compileTemplate('{{ index .data "__proto__" | default "missing" }}').render(parsed)).toBe(
      'missing',
    );
  });

  it('never calls getters or functions in the scope', () => {
    let called = 0;
    const data = {
      get secret() {
        called++;
        return 'leak';
      },
      fn: () => {
        called++;
        return 'ran';
      },
    };
    expect(() => renderTemplate('{{ .data.secret }}', { data })).toThrow(/missing/);
    expect(() => renderTemplate('{{ .data.fn }}', { data })).toThrow(/not data/);
    expect(renderTemplate('{{ .data | json }}', { data })).toBe('{}');
    expect(called).toBe(0);
  });

  it('does not walk into class instances', () => {
    class Box {
      inner = 'x';
    }
    expect(() => renderTemplate('{{ .box.inner }}', { box: new Box() })).toThrow(/missing/);
  });

  it('reports a circular value instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => renderTemplate('{{ .c }}', { c: cyclic })).toThrow(
      expect.objectContaining({ code: 'SY_TEMPLATE_FILTER', message: expect.stringContaining('circular') }),
    );
  });

  it('limits parenthesis nesting', () => {
    expect(refusedAtCompile(`{{ ${'('.repeat(40)}1${')'.repeat(40)} }}`).message).toContain(
      'nested parentheses',
    );
  });
});

describe('conditions run no code', () => {
  it.each([
    'constructor.constructor("return process")()',
    'data.__proto__.polluted == "yes"',
    '.__proto__',
    'data.service.constructor',
    'data.x.prototype == 1',
    'data.service.toString()',
    '`id` == 1',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a JavaScript-style placeholder is the injection attempt under test
    '${process.exit(1)}',
    'process.exit(1)',
    'data.a = 1',
    'data.a; process.exit(1)',
  ])('%s is refused at compile time', (source) => {
    expect(() => compileCondition(source)).toThrow(ConditionError);
  });

  it('inherited names read as missing', () => {
    expect(compileCondition('data.toString').evaluate({ data: {} })).toBe(false);
    expect(compileCondition('data.hasOwnProperty == null').evaluate({ data: {} })).toBe(false);
    expect(compileCondition('data.list.length == 2').evaluate(scope)).toBe(false);
  });
});

describe('rendering never mutates the scope and never leaks Object.prototype changes', () => {
  const template = compileTemplate('{{ .data | json }}-{{ .data.service | upper }}-{{ .x | default "d" }}');
  const raw = compileTemplate('{{ .data }}');
  // JSON.parse, as a YAML/JSON loader would, makes `__proto__` an own key rather than a prototype.
  const value = compileValue(
    JSON.parse(
      '{"a": "{{ .data.list }}", "b": ["{{ .issue.key | lower }}", 1], "__proto__": "{{ .issue.key }}"}',
    ),
  );
  const condition = compileCondition('data.service startsWith "a" && "x" in data.list || data.missing == 1');

  it('holds for arbitrary JSON scopes (property test)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (dataValue, issueValue) => {
        const s = { data: dataValue, issue: issueValue } as Record<string, unknown>;
        const before = structuredClone(s);
        for (const run of [() => template.render(s), () => raw.render(s), () => value.render(s)]) {
          try {
            run();
          } catch (error) {
            expect(error).toBeInstanceOf(TemplateError);
          }
        }
        condition.evaluate(s);
        expect(s).toEqual(before);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('a hostile-looking scope stays as it was', () => {
    const s = JSON.parse(
      '{"data": {"__proto__": {"polluted": 1}, "service": "api", "list": ["x"]}, "issue": {"key": "K"}}',
    );
    const before = JSON.stringify(s);
    expect(value.render(s)).toEqual(
      Object.fromEntries([
        ['a', ['x']],
        ['b', ['k', 1]],
        ['__proto__', 'K'],
      ]),
    );
    expect(Object.getPrototypeOf(value.render(s))).toBe(Object.prototype);
    expect(JSON.stringify(s)).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('any text either compiles or fails with a coded error (property test)', () => {
  const alphabet = fc.constantFrom(
    '{{',
    '}}',
    '{{-',
    '-}}',
    ' ',
    '.',
    'a',
    '|',
    '"',
    '\\',
    '(',
    ')',
    '0',
    '-',
    'lower',
    'index',
    '/*',
    '*/',
  );
  it('templates', () => {
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 20 }), (parts) => {
        const source = parts.join('');
        try {
          const t = compileTemplate(source);
          t.render({ a: { b: 1 } });
        } catch (error) {
          expect(error).toBeInstanceOf(TemplateError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('conditions', () => {
    const tokens = fc.constantFrom(
      'data.a',
      '==',
      '!=',
      '&&',
      '||',
      '!',
      '(',
      ')',
      '[',
      ']',
      ',',
      '"x"',
      '1',
      'in',
      'matches',
      ' ',
    );
    fc.assert(
      fc.property(fc.array(tokens, { maxLength: 12 }), (parts) => {
        try {
          compileCondition(parts.join(' ')).evaluate({ data: { a: 'x' } });
        } catch (error) {
          expect(error).toBeInstanceOf(ConditionError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
