import { describe, expect, it } from 'vitest';
import { ConditionError, compileCondition } from './index.js';

const scope = {
  data: {
    environment: 'production',
    outcome: 'succeeded',
    service: 'payments-api',
    env: 'staging',
    replicas: 3,
    ratio: 0.5,
    version: '1.10.0',
    labels: ['urgent', 'backend'],
    issueKeys: ['PROJ-1'],
    passed: true,
    failed: false,
    nothing: null,
    emptyList: [],
    emptyText: '',
    zero: 0,
    meta: { team: 'core' },
  },
};

const check = (source: string, s: Record<string, unknown> = scope) => compileCondition(source).evaluate(s);

function syntaxError(source: string): ConditionError {
  try {
    compileCondition(source, 'rules[2].if');
  } catch (error) {
    expect(error).toBeInstanceOf(ConditionError);
    return error as ConditionError;
  }
  throw new Error(`expected ${source} to be refused`);
}

describe('truth table', () => {
  it.each([
    ['data.environment == "production" && data.outcome == "succeeded"', true],
    ['data.environment == "production" && data.outcome == "failed"', false],
    ['data.environment == "dev" || data.outcome == "succeeded"', true],
    ['data.environment == "dev" || data.outcome == "failed"', false],
    ['.data.environment == "production"', true],
    ["data.environment == 'production'", true],
    ['data.environment != "production"', false],
    ['data.environment != "dev"', true],
    ['!(data.environment == "dev")', true],
    ['!data.passed', false],
    ['!!data.passed', true],
    ['data.passed', true],
    ['data.failed', false],
    ['data.replicas > 2', true],
    ['data.replicas >= 3', true],
    ['data.replicas < 3', false],
    ['data.replicas <= 3', true],
    ['data.ratio < 1', true],
    ['data.replicas == 3', true],
    ['data.replicas > -1', true],
    ['data.version > "1.9.0"', false],
    ['"b" > "a"', true],
    ['data.env in ["dev", "staging"]', true],
    ['data.env in ["dev", "prod"]', false],
    ['"urgent" in data.labels', true],
    ['"frontend" in data.labels', false],
    ['"pay" in data.service', true],
    ['data.labels contains "backend"', true],
    ['data.service contains "ments"', true],
    ['data.service startsWith "pay"', true],
    ['data.service startsWith "api"', false],
    ['data.service endsWith "-api"', true],
    ['data.service matches "^pay[a-z]+-(api|web)$"', true],
    ['data.service matches "^web"', false],
    ['data.labels == ["urgent", "backend"]', true],
    ['data.meta == data.meta', true],
    ['data.nothing == null', true],
    ['true', true],
    ['false || true && false', false],
    ['(false || true) && true', true],
    ['data.environment in [data.env, "production"]', true],
    ['data.issueKeys.0 == "PROJ-1"', true],
    ['data.replicas in [1, 2, 3]', true],
  ])('%s → %s', (source, expected) => expect(check(source)).toBe(expected));
});

describe('no coercion; type mismatches are false', () => {
  it.each([
    ['data.replicas == "3"', false],
    ['data.replicas < "4"', false],
    ['data.service > 1', false],
    ['data.labels startsWith "u"', false],
    ['data.replicas matches "3"', false],
    ['data.replicas contains 3', false],
    ['data.passed == 1', false],
    ['data.replicas in "123"', false],
  ])('%s → %s', (source, expected) => expect(check(source)).toBe(expected));
});

describe('missing paths are undefined, not errors', () => {
  it.each([
    ['data.nope == "x"', false],
    ['data.nope != "x"', true],
    ['data.nope == null', false],
    ['data.nope == data.other', false],
    ['data.nope < 1', false],
    ['data.nope > 1', false],
    ['data.nope in ["a"]', false],
    ['"a" in data.nope', false],
    ['data.nope startsWith "a"', false],
    ['data.nope matches "a"', false],
    ['data.nope', false],
    ['!data.nope', true],
    ['data.environment.deeper == "x"', false],
    ['nothing.at.all', false],
  ])('%s → %s', (source, expected) => expect(check(source)).toBe(expected));

  it('evaluates against an empty scope', () => {
    expect(check('data.environment == "production"', {})).toBe(false);
  });
});

describe('truthiness', () => {
  it.each([
    ['data.nothing', false],
    ['data.emptyList', false],
    ['data.emptyText', false],
    ['data.zero', false],
    ['data.labels', true],
    ['data.meta', true],
    ['data.service', true],
    ['0.5', true],
  ])('%s → %s', (source, expected) => expect(check(source)).toBe(expected));
});

describe('syntax errors carry the column and a fix', () => {
  it.each([
    ['data.env = "x"', 10, 'unexpected "="', 'compare with =='],
    ['data.env == "x" & data.a', 17, 'unexpected "&"', 'combine with &&'],
    ['data.env == ', 13, 'ends too early', ''],
    ['', 1, 'empty condition', ''],
    ['(data.env == "x"', 17, 'expected ")"', ''],
    ['data.env == "x")', 16, 'unexpected ")"', ''],
    ['!data.env == "x"', 1, '"!" before a comparison is ambiguous', '!('],
    ['data.a == 1 == 2', 13, 'comparisons cannot be chained', '&&'],
    ['data.a in ["a" "b"]', 16, 'expected "," or "]"', ''],
    ['data.service matches data.pattern', 14, 'matches needs a string literal pattern', ''],
    ['data.service matches "(a"', 23, 'invalid pattern: unclosed "("', ''],
    ['data.service matches "a{2"', 24, '"{" must start a repeat', ''],
    ['data.service matches "(a)\\\\1"', 26, 'backreferences are not supported', ''],
    ['data.service.startsWith("x")', 24, 'function calls are not supported', 'startsWith'],
    ['data.a + 1', 8, 'unexpected "+"', 'arithmetic'],
    ['{{ .data.a }}', 1, 'unexpected "{"', 'conditions are not templates'],
    ['data.labels[0] == "x"', 12, 'unexpected "["', 'data.issueKeys.0'],
    ['data.a == "x', 11, 'unterminated string', ''],
  ])('%s → column %i: %s', (source, column, problem, fix) => {
    const error = syntaxError(source);
    expect(error.code).toBe('SY_CONDITION_SYNTAX');
    expect(error.position?.column).toBe(column);
    expect(error.message).toContain(problem);
    expect(error.message).toContain('rules[2].if: condition');
    expect(error.message).toContain(fix);
  });

  it('limits nesting', () => {
    expect(syntaxError(`${'('.repeat(40)}true${')'.repeat(40)}`).message).toContain('nested more than 32');
    expect(syntaxError(`${'!'.repeat(40)}true`).message).toContain('nested more than 32');
  });

  it('lists the paths it reads', () => {
    expect(compileCondition('.data.a == data.b || data.a').paths).toEqual(['data.a', 'data.b']);
  });
});

describe('matches', () => {
  it('refuses a subject over the limit with SY_CONDITION_EVAL rather than a silent false', () => {
    const condition = compileCondition('data.s matches "x"', 'rules[0].if');
    expect(() => condition.evaluate({ data: { s: 'a'.repeat(70_000) } })).toThrow(
      expect.objectContaining({
        code: 'SY_CONDITION_EVAL',
        message: expect.stringContaining('the limit is 65536'),
      }),
    );
  });

  it('compiles the pattern once, at load', () => {
    expect(() => compileCondition('data.s matches "a**"')).toThrow(/a repeat cannot be repeated/);
  });
});
