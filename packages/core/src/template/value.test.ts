import { describe, expect, it } from 'vitest';
import { compileValue, TemplateError } from './index.js';

const scope = { data: { service: 'api', issueKeys: ['PROJ-1', 'PROJ-2'], replicas: 2 } };

describe('compileValue', () => {
  it('renders every string in objects and lists; literals stay as they are', () => {
    const compiled = compileValue({
      issue: '{{ .data.issueKeys }}',
      comment: 'Deployed {{ .data.service }}',
      count: '{{ .data.replicas }}',
      fixed: 5,
      flag: false,
      none: null,
      nested: { list: ['{{ .data.service | upper }}', 'plain', 3] },
    });
    expect(compiled.templated).toBe(true);
    expect(compiled.render(scope)).toEqual({
      issue: ['PROJ-1', 'PROJ-2'],
      comment: 'Deployed api',
      count: 2,
      fixed: 5,
      flag: false,
      none: null,
      nested: { list: ['API', 'plain', 3] },
    });
  });

  it('returns a value without templates itself, and says so', () => {
    const input = { query: 'rate(x[5m])', operator: '<', expectedValue: 0.01, list: ['a'] };
    const compiled = compileValue(input);
    expect(compiled.templated).toBe(false);
    expect(compiled.render(scope)).toBe(input);
    expect(compileValue(7).render(scope)).toBe(7);
    expect(compileValue('plain').templated).toBe(false);
  });

  it('checks every template at compile time and names the place', () => {
    try {
      compileValue(
        { steps: [{ branch: 'ok/{{ .issue.key }}' }, { branch: 'feature/{{ .issue.key | lowr }}' }] },
        'with',
      );
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateError);
      expect((error as TemplateError).where).toBe('with.steps[1].branch');
      expect((error as TemplateError).message).toMatch(/^with\.steps\[1\]\.branch: template unknown filter/);
    }
    expect(() => compileValue({ 'odd key': 'x {{ .a' }, 'with')).toThrow(
      /^with\["odd key"\]: template unclosed/,
    );
  });

  it('renders a missing path as an error naming the place', () => {
    expect(() => compileValue({ to: '{{ .data.status }}' }, 'rules[0].do[0].with').render(scope)).toThrow(
      /^rules\[0\]\.do\[0\]\.with\.to: template path \.data\.status is missing/,
    );
  });

  it('builds fresh containers on every render', () => {
    const compiled = compileValue({ a: ['{{ .data.service }}'] });
    const first = compiled.render(scope) as { a: string[] };
    first.a.push('changed');
    expect(compiled.render(scope)).toEqual({ a: ['api'] });
  });
});
