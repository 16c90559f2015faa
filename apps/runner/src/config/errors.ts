// Maps config paths back to places in the YAML source: file:line:column for every problem.
import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { ConfigProblem } from '../errors.js';

export type ConfigPath = ReadonlyArray<string | number>;

export interface Locator {
  file: string;
  /** Place of the node at `path`, or of its nearest existing ancestor. `key` points at the key itself. */
  at(path: ConfigPath, options?: { key?: boolean }): { line: number; column: number };
  /** Place of a character offset in the source. */
  offset(offset: number): { line: number; column: number };
  problem(path: ConfigPath, code: string, message: string, options?: { key?: boolean }): ConfigProblem;
  /**
   * Place of a position inside a one-line string value (a template or condition error at its
   * column), or the value's own place when it spans lines or is not a plain/quoted scalar.
   */
  inside(path: ConfigPath, line: number, column: number): { line: number; column: number };
}

export function createLocator(file: string, doc: Document, lineCounter: LineCounter): Locator {
  const offset = (o: number) => {
    const pos = lineCounter.linePos(o);
    return { line: pos.line, column: pos.col };
  };
  const nodeAt = (path: ConfigPath): unknown => {
    let node: unknown = doc.contents;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) return undefined;
        node = pair.value;
      } else if (isSeq(node)) node = node.items[Number(seg)];
      else return undefined;
    }
    return node;
  };
  const at: Locator['at'] = (path, options = {}) => {
    let node: unknown = doc.contents;
    let place = rangeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) break;
        const last = i === path.length - 1;
        if (last && options.key) {
          place = rangeStart(pair.key) ?? place;
          break;
        }
        node = pair.value ?? pair.key;
        place = rangeStart(pair.value) ?? rangeStart(pair.key) ?? place;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) break;
        node = item;
        place = rangeStart(item) ?? place;
      } else break;
    }
    return offset(place);
  };
  return {
    file,
    at,
    offset,
    inside(path, line, column) {
      const node = nodeAt(path);
      const start = at(path);
      if (!isScalar(node) || line !== 1 || !Array.isArray(node.range)) return start;
      const end = offset(node.range[1]);
      if (end.line !== start.line) return start;
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
      if (!quoted && node.type !== 'PLAIN') return start;
      return { line: start.line, column: start.column + (quoted ? 1 : 0) + column - 1 };
    },
    problem(path, code, message, options) {
      const { line, column } = at(path, options);
      return { file, line, column, path: formatPath(path), code, message };
    },
  };
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}

/** `rules[0].do[1].with.issue` style paths. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number' || /^\d+$/.test(String(seg))) out += `[${seg}]`;
    else out += out ? `.${seg}` : String(seg);
  }
  return out;
}

/** Splits a host problem path like `plugins.jira.options.baseUrl` back into segments. */
export function parseDottedPath(path: string): string[] {
  return path.split('.').filter((s) => s.length > 0);
}
