import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compileCondition, compileTemplate, isTemplated } from '@switchyard/core';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { DURATION_HINT, parseDuration } from './duration.js';
import { PipelineErrorCodes as Codes, type PipelineErrorCode } from './errors.js';
import { ACTION_STEP, STEP_TYPES, type StepType } from './steps/types.js';

// Reads pipeline files and turns them into definitions with every template and condition compiled.
// Problems are collected, not thrown, so `switchyard check` shows all of them, each as
// `<file>:<line>:<col>: <what> [SY_PIPELINE_…]`.

export type Scope = Record<string, unknown>;
/** A value from the file with its templates compiled: rendering returns the same shape, filled in. */
export type Renderer = (scope: Scope) => unknown;

export interface Condition {
  source: string;
  evaluate(scope: Scope): boolean;
}

export type TriggerDefinition =
  | {
      type: 'jira-issue';
      event: 'issue-transition';
      statuses?: string[];
      projects?: string[];
      issueTypes?: string[];
      condition?: Condition;
    }
  | { type: 'event'; on: string; condition?: Condition; issue?: Renderer }
  | { type: 'manual' };

export interface StepDefinition {
  /** 1-based across the whole pipeline: the number in `GET /logs?run=…&step=<n>`. */
  number: number;
  name: string;
  type: string;
  /** Set for `<plugin>.<action>` steps. */
  action?: string;
  timeoutMs?: number;
  /** Renders the step's parameters (every field but type, name and timeout). */
  params: Renderer;
  /** `<file>:<line>:<col>` of the step, for messages. */
  location: string;
}

export interface StageDefinition {
  name: string;
  always: boolean;
  steps: StepDefinition[];
}

export interface PipelineDefinition {
  name: string;
  file: string;
  description?: string;
  concurrency: 'queue' | 'replace';
  timeoutMs?: number;
  env: Renderer;
  triggers: TriggerDefinition[];
  stages: StageDefinition[];
}

export interface LoadProblem {
  file: string;
  line: number;
  col: number;
  code: PipelineErrorCode;
  /** `<file>:<line>:<col>: <what> [code]`. */
  message: string;
}

export interface LoadResult {
  pipelines: PipelineDefinition[];
  problems: LoadProblem[];
}

/** Resolves `*`/`?` in the file-name part of absolute patterns; remembers which pattern gave each file. */
export function expandPatterns(patterns: readonly string[]): {
  paths: string[];
  indexOf: Map<string, number>;
  problems: string[];
} {
  const paths: string[] = [];
  const indexOf = new Map<string, number>();
  const problems: string[] = [];
  patterns.forEach((pattern, index) => {
    const name = basename(pattern);
    if (!/[*?]/.test(name)) {
      if (!indexOf.has(pattern)) paths.push(pattern);
      indexOf.set(pattern, indexOf.get(pattern) ?? index);
      return;
    }
    const dir = dirname(pattern);
    const re = new RegExp(
      `^${name
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    const found =
      !/[*?]/.test(dir) && existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => re.test(f))
            .map((f) => join(dir, f))
            .filter((f) => statSync(f).isFile())
            .sort()
        : [];
    if (found.length === 0)
      problems.push(`no pipeline file matches "${pattern}" (only the file name may hold * or ?)`);
    for (const f of found) {
      if (!indexOf.has(f)) paths.push(f);
      indexOf.set(f, indexOf.get(f) ?? index);
    }
  });
  return { paths, indexOf, problems };
}

/** Loads every file; duplicate pipeline names across files are problems too. */
export function loadPipelines(files: readonly string[]): LoadResult {
  const pipelines: PipelineDefinition[] = [];
  const problems: LoadProblem[] = [];
  const seen = new Map<string, { file: string; line: number; col: number }>();
  for (const file of files) {
    const result = loadPipelineFile(file);
    problems.push(...result.problems);
    for (const p of result.pipelines) {
      const first = seen.get(p.name);
      const pos = result.namePositions.get(p.name) ?? { line: 1, col: 1 };
      if (first) {
        problems.push(
          problem(
            file,
            pos,
            Codes.DUPLICATE_NAME,
            `pipeline "${p.name}" is already defined at ${first.file}:${first.line}:${first.col}; pipeline names must be unique`,
          ),
        );
        continue;
      }
      seen.set(p.name, { file, ...pos });
      pipelines.push(p);
    }
  }
  return { pipelines, problems };
}

interface Pos {
  line: number;
  col: number;
}

function problem(file: string, pos: Pos, code: PipelineErrorCode, what: string): LoadProblem {
  return {
    file,
    line: pos.line,
    col: pos.col,
    code,
    message: `${file}:${pos.line}:${pos.col}: ${what} [${code}]`,
  };
}

const PIPELINE_KEYS = ['name', 'description', 'triggers', 'stages', 'concurrency', 'timeout', 'env'];
const STAGE_KEYS = ['name', 'steps', 'always'];
const COMMON_STEP_KEYS = ['type', 'name', 'timeout'];
const TRIGGER_KEYS: Record<string, string[]> = {
  'jira-issue': ['type', 'event', 'status', 'project', 'issueType', 'if'],
  event: ['type', 'on', 'if', 'issue'],
  manual: ['type'],
};
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Loads one file: a single `pipeline:` document. */
export function loadPipelineFile(file: string): LoadResult & { namePositions: Map<string, Pos> } {
  const problems: LoadProblem[] = [];
  const namePositions = new Map<string, Pos>();
  const empty = { pipelines: [], problems, namePositions };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (error as Error).message;
    problems.push(
      problem(file, { line: 1, col: 1 }, Codes.FILE_UNREADABLE, `cannot read the pipeline file: ${reason}`),
    );
    return empty;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
      problems.push(problem(file, pos, Codes.FILE_SYNTAX, `YAML: ${e.message.split('\n')[0]}`));
    }
    return empty;
  }
  const ctx = new FileContext(file, lineCounter, problems);
  const root = doc.contents as Node | null;
  if (!isMap(root)) {
    ctx.report(root, Codes.FIELD_MISSING, 'a pipeline file holds `pipeline:` with name, triggers and stages');
    return empty;
  }
  ctx.unknownKeys(root, ['pipeline'], 'the file');
  const node = root.get('pipeline', true) as Node | undefined;
  if (!isMap(node)) {
    ctx.report(node ?? root, Codes.FIELD_MISSING, '`pipeline:` must be a map with name, triggers and stages');
    return empty;
  }
  const before = problems.length;
  const pipeline = ctx.pipeline(node);
  if (pipeline) namePositions.set(pipeline.name, ctx.pos(node.get('name', true) as Node));
  return { pipelines: pipeline && problems.length === before ? [pipeline] : [], problems, namePositions };
}

class FileContext {
  #stepNumber = 0;

  constructor(
    readonly file: string,
    readonly lines: LineCounter,
    readonly problems: LoadProblem[],
  ) {}

  pos(node: Node | null | undefined): Pos {
    const offset = node?.range?.[0] ?? 0;
    return this.lines.linePos(offset);
  }

  where(node: Node | null | undefined): string {
    const p = this.pos(node);
    return `${this.file}:${p.line}:${p.col}`;
  }

  report(node: Node | null | undefined, code: PipelineErrorCode, what: string, pos?: Pos): void {
    this.problems.push(problem(this.file, pos ?? this.pos(node), code, what));
  }

  unknownKeys(map: YAMLMap, allowed: readonly string[], what: string): void {
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (!allowed.includes(key)) {
        const hint = closest(key, allowed);
        this.report(
          pair.key as Node,
          Codes.FIELD_INVALID,
          `unknown field "${key}" in ${what}${hint ? `; did you mean "${hint}"?` : ''} (allowed: ${allowed.join(', ')})`,
        );
      }
    }
  }

  string(map: YAMLMap, key: string, what: string, required: boolean): string | undefined {
    const node = map.get(key, true) as Node | undefined;
    if (node === undefined || (isScalar(node) && node.value === null)) {
      if (required) this.report(map, Codes.FIELD_MISSING, `${what} needs "${key}"`);
      return undefined;
    }
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      this.report(node, Codes.FIELD_INVALID, `"${key}" of ${what} must be a non-empty string`);
      return undefined;
    }
    return node.value;
  }

  strings(map: YAMLMap, key: string, what: string): string[] | undefined {
    const node = map.get(key, true) as Node | undefined;
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === 'string' && node.value !== '') return [node.value];
    if (
      isSeq(node) &&
      node.items.every((i) => isScalar(i) && typeof i.value === 'string' && i.value !== '')
    ) {
      return node.items.map((i) => String((i as { value: unknown }).value));
    }
    this.report(node, Codes.FIELD_INVALID, `"${key}" of ${what} must be a string or a list of strings`);
    return undefined;
  }

  duration(map: YAMLMap, key: string, what: string): number | undefined {
    const node = map.get(key, true) as Node | undefined;
    if (node === undefined) return undefined;
    const ms = isScalar(node) ? parseDuration(node.value) : undefined;
    if (ms === undefined)
      this.report(node, Codes.FIELD_INVALID, `"${key}" of ${what} must be ${DURATION_HINT}`);
    return ms;
  }

  condition(map: YAMLMap, key: string, what: string): Condition | undefined {
    const node = map.get(key, true) as Node | undefined;
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.report(
        node,
        Codes.FIELD_INVALID,
        `"${key}" of ${what} must be a condition string, e.g. data.outcome == "failed"`,
      );
      return undefined;
    }
    const source = node.value;
    try {
      const compiled = compileCondition(source, `${what}.${key}`);
      return { source, evaluate: (scope) => compiled.evaluate(scope) === true };
    } catch (error) {
      this.report(node, Codes.TEMPLATE_INVALID, messageOf(error), this.innerPos(node, error));
      return undefined;
    }
  }

  /** Compiles every `{{ … }}` string under the node; literals are kept as they are. */
  renderer(node: Node | null | undefined, path: string): Renderer | undefined {
    if (node === undefined || node === null) return () => undefined;
    if (isMap(node)) {
      const entries: Array<[string, Renderer]> = [];
      let ok = true;
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const r = this.renderer(pair.value as Node, `${path}.${key}`);
        if (r) entries.push([key, r]);
        else ok = false;
      }
      if (!ok) return undefined;
      return (scope) => Object.fromEntries(entries.map(([k, r]) => [k, r(scope)]));
    }
    if (isSeq(node)) {
      const items = node.items.map((item, i) => this.renderer(item as Node, `${path}[${i}]`));
      if (items.some((i) => i === undefined)) return undefined;
      return (scope) => items.map((r) => r!(scope));
    }
    if (isScalar(node) && typeof node.value === 'string' && isTemplated(node.value)) {
      try {
        const template = compileTemplate(node.value, path);
        return (scope) => template.render(scope);
      } catch (error) {
        this.report(node, Codes.TEMPLATE_INVALID, messageOf(error), this.innerPos(node, error));
        return undefined;
      }
    }
    const value = isScalar(node) ? node.value : node.toJSON();
    return () => value;
  }

  /** The file position of an error inside a one-line scalar (template or condition column). */
  innerPos(node: Node, error: unknown): Pos {
    const base = this.pos(node);
    const column = (error as { position?: { line: number; column: number } }).position;
    if (column?.line !== 1 || !isScalar(node)) return base;
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
    if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') return base;
    return { line: base.line, col: base.col + quoted + column.column - 1 };
  }

  pipeline(node: YAMLMap): PipelineDefinition | undefined {
    this.unknownKeys(node, PIPELINE_KEYS, 'pipeline');
    const name = this.string(node, 'name', 'pipeline', true);
    if (name !== undefined && !NAME.test(name)) {
      this.report(
        node.get('name', true) as Node,
        Codes.FIELD_INVALID,
        `pipeline name "${name}" may hold only letters, digits, ".", "_" and "-"`,
      );
    }
    const what = `pipeline "${name ?? '?'}"`;
    const concurrencyText = this.string(node, 'concurrency', what, false) ?? 'queue';
    if (concurrencyText !== 'queue' && concurrencyText !== 'replace') {
      this.report(
        node.get('concurrency', true) as Node,
        Codes.FIELD_INVALID,
        `"concurrency" must be "queue" or "replace"`,
      );
    }
    const timeoutMs = this.duration(node, 'timeout', what);
    const envNode = node.get('env', true) as Node | undefined;
    if (envNode !== undefined && !isMap(envNode))
      this.report(envNode, Codes.FIELD_INVALID, '"env" must be a map of NAME: value');
    const env = this.renderer(envNode, 'env') ?? (() => ({}));

    const triggers: TriggerDefinition[] = [];
    const triggersNode = node.get('triggers', true) as Node | undefined;
    if (triggersNode !== undefined) {
      if (!isSeq(triggersNode)) this.report(triggersNode, Codes.FIELD_INVALID, '"triggers" must be a list');
      else
        triggersNode.items.forEach((t, i) => {
          const trigger = this.trigger(t as Node, `triggers[${i}]`);
          if (trigger) triggers.push(trigger);
        });
    }

    const stages: StageDefinition[] = [];
    const stagesNode = node.get('stages', true) as Node | undefined;
    if (!isSeq(stagesNode) || stagesNode.items.length === 0) {
      this.report(stagesNode ?? node, Codes.FIELD_MISSING, `${what} needs "stages": a list of {name, steps}`);
    } else {
      const names = new Set<string>();
      stagesNode.items.forEach((s, i) => {
        const stage = this.stage(s as Node, `stages[${i}]`);
        if (!stage) return;
        if (names.has(stage.name)) {
          this.report(s as Node, Codes.DUPLICATE_NAME, `stage "${stage.name}" appears twice in ${what}`);
        }
        names.add(stage.name);
        stages.push(stage);
      });
    }
    if (name === undefined) return undefined;
    const description = this.string(node, 'description', what, false);
    return {
      name,
      file: this.file,
      ...(description !== undefined ? { description } : {}),
      concurrency: concurrencyText === 'replace' ? 'replace' : 'queue',
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      env,
      triggers,
      stages,
    };
  }

  trigger(node: Node, path: string): TriggerDefinition | undefined {
    if (!isMap(node)) {
      this.report(
        node,
        Codes.FIELD_INVALID,
        `${path} must be a map with a "type" (jira-issue, event or manual)`,
      );
      return undefined;
    }
    const type = this.string(node, 'type', path, true);
    if (type === undefined) return undefined;
    const allowed = TRIGGER_KEYS[type];
    if (!allowed) {
      const hint = closest(type, Object.keys(TRIGGER_KEYS));
      this.report(
        node.get('type', true) as Node,
        Codes.TRIGGER_UNKNOWN,
        `unknown trigger type "${type}"${hint ? `; did you mean "${hint}"?` : ''} (known: jira-issue, event, manual)`,
      );
      return undefined;
    }
    this.unknownKeys(node, allowed, `${type} trigger`);
    if (type === 'manual') return { type: 'manual' };
    if (type === 'event') {
      const on = this.string(node, 'on', `${path} (event trigger)`, true);
      if (on !== undefined && !/^[A-Za-z][A-Za-z0-9.]*$/.test(on)) {
        this.report(
          node.get('on', true) as Node,
          Codes.FIELD_INVALID,
          `"on" must be an event type such as DeploymentCompleted`,
        );
      }
      const condition = this.condition(node, 'if', path);
      const issueNode = node.get('issue', true) as Node | undefined;
      const issue = issueNode === undefined ? undefined : this.renderer(issueNode, `${path}.issue`);
      if (on === undefined) return undefined;
      return { type: 'event', on, ...(condition ? { condition } : {}), ...(issue ? { issue } : {}) };
    }
    const event = this.string(node, 'event', path, false) ?? 'issue-transition';
    if (event !== 'issue-transition') {
      this.report(
        node.get('event', true) as Node,
        Codes.FIELD_INVALID,
        `"event" of a jira-issue trigger must be "issue-transition"`,
      );
    }
    const statuses = this.strings(node, 'status', path);
    const projects = this.strings(node, 'project', path);
    const issueTypes = this.strings(node, 'issueType', path);
    const condition = this.condition(node, 'if', path);
    return {
      type: 'jira-issue',
      event: 'issue-transition',
      ...(statuses ? { statuses } : {}),
      ...(projects ? { projects } : {}),
      ...(issueTypes ? { issueTypes } : {}),
      ...(condition ? { condition } : {}),
    };
  }

  stage(node: Node, path: string): StageDefinition | undefined {
    if (!isMap(node)) {
      this.report(node, Codes.FIELD_INVALID, `${path} must be a map with "name" and "steps"`);
      return undefined;
    }
    this.unknownKeys(node, STAGE_KEYS, 'stage');
    const name = this.string(node, 'name', `stage ${path}`, true);
    const alwaysNode = node.get('always', true) as Node | undefined;
    if (alwaysNode !== undefined && !(isScalar(alwaysNode) && typeof alwaysNode.value === 'boolean')) {
      this.report(alwaysNode, Codes.FIELD_INVALID, '"always" must be true or false');
    }
    const stepsNode = node.get('steps', true) as Node | undefined;
    const steps: StepDefinition[] = [];
    if (!isSeq(stepsNode) || stepsNode.items.length === 0) {
      this.report(
        stepsNode ?? node,
        Codes.FIELD_MISSING,
        `stage "${name ?? path}" needs "steps": a list of steps`,
      );
    } else {
      stepsNode.items.forEach((s, i) => {
        const step = this.step(s as Node, `${path}.steps[${i}]`);
        if (step) steps.push(step);
      });
    }
    if (name === undefined) return undefined;
    return { name, always: isScalar(alwaysNode) && alwaysNode.value === true, steps };
  }

  step(node: Node, path: string): StepDefinition | undefined {
    const number = ++this.#stepNumber;
    if (!isMap(node)) {
      this.report(node, Codes.FIELD_INVALID, `${path} must be a map with a "type"`);
      return undefined;
    }
    const type = this.string(node, 'type', `step ${path}`, true);
    if (type === undefined) return undefined;
    const spec: StepType | undefined = STEP_TYPES[type];
    const isAction = !spec && ACTION_STEP.test(type);
    if (!spec && !isAction) {
      const hint = closest(type, Object.keys(STEP_TYPES));
      this.report(
        node.get('type', true) as Node,
        Codes.STEP_UNKNOWN,
        `unknown step type "${type}"${hint ? `; did you mean "${hint}"?` : ''} (known: ${Object.keys(STEP_TYPES).join(', ')}, or <plugin>.<action> such as slack.post)`,
      );
      return undefined;
    }
    const name = this.string(node, 'name', `step ${path}`, false) ?? type;
    const timeoutMs = this.duration(node, 'timeout', `step ${path}`);
    const before = this.problems.length;
    if (spec) {
      this.unknownKeys(node, [...COMMON_STEP_KEYS, ...Object.keys(spec.fields)], `${type} step`);
      for (const [key, field] of Object.entries(spec.fields)) {
        const value = node.get(key, true) as Node | undefined;
        if (value === undefined || (isScalar(value) && value.value === null)) {
          if (field.required)
            this.report(node, Codes.FIELD_MISSING, `${type} step needs "${key}" (${field.hint})`);
          continue;
        }
        const raw = value.toJSON() as unknown;
        if (typeof raw === 'string' && isTemplated(raw)) continue;
        const checked = field.schema.safeParse(raw);
        if (!checked.success) {
          this.report(value, Codes.FIELD_INVALID, `"${key}" of the ${type} step must be ${field.hint}`);
        }
      }
      const missingOneOf = spec.oneOf && !spec.oneOf.some((k) => node.has(k));
      if (missingOneOf)
        this.report(
          node,
          Codes.FIELD_MISSING,
          `${type} step needs one of ${spec.oneOf!.map((k) => `"${k}"`).join(' or ')}`,
        );
    }
    const paramsNode = node.clone() as YAMLMap;
    for (const k of COMMON_STEP_KEYS) paramsNode.delete(k);
    const params = this.renderer(paramsNode, path);
    if (!params || this.problems.length > before) return undefined;
    return {
      number,
      name,
      type,
      ...(isAction ? { action: type } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      params,
      location: this.where(node),
    };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The allowed word nearest to a typo (edit distance ≤ 2), for "did you mean". */
function closest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const option of options) {
    const d = distance(word.toLowerCase(), option.toLowerCase());
    if (d < bestDistance) {
      best = option;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}
