// compileValue: a whole `with:` block or step params compiled once at load. Every string holding
// `{{` anywhere in the tree is parsed then, so a typo fails `switchyard check`, not the first event.
import { isPlainObject } from './data.js';
import { compileTemplate, isTemplated } from './template.js';

export interface CompiledValue {
  /** The value with every template rendered; parts without templates are returned as they are. */
  render(scope: Record<string, unknown>): unknown;
  /** True when any string inside is a template; false means render() returns the input itself. */
  readonly templated: boolean;
}

const IDENT_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `where` of a child: `with.branch`, `with.labels[0]`, `with["odd key"]`. */
function child(where: string | undefined, key: string | number): string {
  const base = where ?? '';
  if (typeof key === 'number') return `${base}[${key}]`;
  if (IDENT_KEY.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

const literal = (value: unknown): CompiledValue => ({ templated: false, render: () => value });

export function compileValue(value: unknown, where?: string): CompiledValue {
  if (typeof value === 'string') {
    if (!isTemplated(value)) return literal(value);
    const template = compileTemplate(value, where);
    return { templated: true, render: (scope) => template.render(scope) };
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => compileValue(item, child(where, i)));
    if (!items.some((item) => item.templated)) return literal(value);
    return { templated: true, render: (scope) => items.map((item) => item.render(scope)) };
  }
  if (isPlainObject(value)) {
    const entries = Object.keys(value).map(
      (key) => [key, compileValue(value[key], child(where, key))] as const,
    );
    if (!entries.some(([, item]) => item.templated)) return literal(value);
    // fromEntries defines keys, so a `__proto__` key in the config stays a key, not a prototype.
    return {
      templated: true,
      render: (scope) => Object.fromEntries(entries.map(([k, item]) => [k, item.render(scope)])),
    };
  }
  return literal(value);
}
