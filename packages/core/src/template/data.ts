// Safe reads of event data. Templates and conditions only ever see JSON-like data: own data
// properties of plain objects and in-range indices of arrays. Nothing here walks a prototype chain,
// calls a getter or a function, so `__proto__`, `constructor` or a method name resolve to missing.

/** Path segments that would reach the prototype machinery; refused at compile time and at lookup. */
export const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** The result of a lookup that found nothing. Carries a sentence saying where the walk stopped. */
export class Missing {
  constructor(
    readonly path: string,
    readonly reason: string,
    /** Offset of the path in the template text, once known. */
    readonly at?: number,
  ) {}
}

export function isMissing(value: unknown): value is Missing {
  return value instanceof Missing;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const INDEX = /^(?:0|[1-9]\d*)$/;

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Missing) return 'missing';
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'an object';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return `not data (${typeof value})`;
  }
}

/**
 * Normalises a leaf into data: Dates become ISO strings (scopes built in code may hold them),
 * anything that is not data (functions, symbols, class instances, Maps) is treated as absent.
 */
function asData(value: unknown): { ok: true; value: unknown } | { ok: false } {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return { ok: true, value };
    case 'number':
      return Number.isFinite(value) ? { ok: true, value } : { ok: false };
    case 'object':
      if (value === null || Array.isArray(value) || isPlainObject(value)) return { ok: true, value };
      if (value instanceof Date && !Number.isNaN(value.getTime()))
        return { ok: true, value: value.toISOString() };
      return { ok: false };
    default:
      return { ok: false };
  }
}

function listKeys(object: Record<string, unknown>): string {
  const keys = Object.keys(object).filter((k) => !FORBIDDEN_SEGMENTS.has(k));
  if (keys.length === 0) return 'it has no keys';
  const shown = keys.slice(0, 12).join(', ');
  return `it has: ${shown}${keys.length > 12 ? `, … (${keys.length} keys)` : ''}`;
}

/**
 * One step of a walk: `container[key]`, or a Missing saying why not. `at` is the text of the path
 * so far (`.issue.fields`), used in the reason.
 */
export function step(container: unknown, key: string | number, at: string, full: string): unknown {
  const label = at === '' ? 'the scope' : at;
  if (container instanceof Missing) return container;
  const name = String(key);
  if (FORBIDDEN_SEGMENTS.has(name))
    return new Missing(full, `"${name}" is never looked up (prototype access)`);
  if (Array.isArray(container)) {
    if (typeof key === 'number' ? !Number.isInteger(key) || key < 0 : !INDEX.test(name)) {
      return new Missing(full, `${label} is a list, so it is indexed by number, not "${name}"`);
    }
    const index = Number(name);
    if (index >= container.length) {
      return new Missing(full, `${label} has ${container.length} item(s), so there is no index ${index}`);
    }
    const leaf = asData(container[index]);
    return leaf.ok ? leaf.value : new Missing(full, `${label}[${index}] is not data`);
  }
  if (isPlainObject(container)) {
    const descriptor = Object.getOwnPropertyDescriptor(container, name);
    // Only data properties: an accessor would run code.
    if (descriptor === undefined || !('value' in descriptor)) {
      return new Missing(full, `${label} has no key "${name}" (${listKeys(container)})`);
    }
    const leaf = asData(descriptor.value);
    return leaf.ok ? leaf.value : new Missing(full, `${label}.${name} is not data`);
  }
  return new Missing(full, `${label} is ${typeName(container)}, so it has no "${name}"`);
}

/** Renders path segments the way they are written: `.issue.fields.customfield_10001`. */
export function pathText(segments: readonly string[]): string {
  return segments.length === 0 ? '.' : segments.map((s) => `.${s}`).join('');
}

/** Walks `segments` from `root`. Returns the data found or a Missing. */
export function lookup(root: unknown, segments: readonly string[]): unknown {
  const full = pathText(segments);
  let current: unknown = root;
  if (segments.length === 0) {
    const leaf = asData(root);
    return leaf.ok ? leaf.value : new Missing(full, 'the scope is not data');
  }
  for (let i = 0; i < segments.length; i++) {
    current = step(current, segments[i]!, i === 0 ? '' : pathText(segments.slice(0, i)), full);
    if (current instanceof Missing) return current;
  }
  return current;
}

/** Raised by toData on a value that cannot be copied as data (a cycle). */
export class DataShapeError extends Error {}

/**
 * A deep copy holding only data: raw template output never aliases the caller's scope, so an action
 * that edits its params cannot change the event. Keys are defined, not assigned, so an own
 * `__proto__` key from JSON.parse stays a plain key.
 */
export function toData(value: unknown, ancestors: Set<object> = new Set()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) throw new DataShapeError('the value contains a circular reference');
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item) => {
        const leaf = asData(item);
        return leaf.ok ? toData(leaf.value, ancestors) : null;
      });
    }
    const entries: [string, unknown][] = [];
    for (const key of Object.keys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined || !('value' in descriptor)) continue;
      const leaf = asData(descriptor.value);
      if (leaf.ok) entries.push([key, toData(leaf.value, ancestors)]);
    }
    return Object.fromEntries(entries);
  } finally {
    ancestors.delete(value);
  }
}

/** Text of a value inside a larger string: strings as is, null as empty, lists and objects as JSON. */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(toData(value));
  return String(value);
}

/** Structural equality of JSON-like values, with no coercion (1 is not "1"). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
}
