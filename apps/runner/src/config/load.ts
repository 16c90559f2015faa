import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { Secrets } from '@switchyard/core';
import { isCollection, LineCounter, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem, RunnerErrorCodes } from '../errors.js';
import { type ConfigPath, createLocator, type Locator } from './errors.js';
import { createRefResolver, hasPlaceholder, maskRefs, type RefResolver } from './refs.js';
import {
  configSchema,
  didYouMean,
  pluginEntrySchema,
  ruleSchema,
  type SwitchyardConfig,
  serverSchema,
  shapeAt,
} from './schema.js';

export const DEFAULT_CONFIG_FILE = './switchyard.yaml';

export interface LoadedConfig {
  /** Absolute path of the config file. */
  path: string;
  /** Directory relative paths in the config are resolved against. */
  dir: string;
  /** The file as shown in messages (relative to the working directory when below it). */
  file: string;
  config: SwitchyardConfig;
  locator: Locator;
  /** Every value resolved from ${env:…}/${file:…}, for redaction. */
  secrets: Secrets;
  /** When rules were left out (collectConfig), the original index of each kept rule. */
  ruleIndexes?: number[];
}

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  /** Secrets registry to add resolved values to (the daemon shares one across reloads). */
  secrets?: Secrets;
  cwd?: string;
}

interface Parsed {
  path: string;
  dir: string;
  file: string;
  value: unknown;
  locator: Locator;
  resolver: RefResolver;
  secrets: Secrets;
}

function parseFile(configPath: string, options: LoadConfigOptions): Parsed {
  const cwd = options.cwd ?? process.cwd();
  const path = resolve(cwd, configPath);
  const rel = relative(cwd, path);
  const file = rel && !rel.startsWith('..') ? rel : path;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([
      {
        file,
        line: 0,
        column: 0,
        path: '',
        code: RunnerErrorCodes.CONFIG_NOT_FOUND,
        message:
          code === 'ENOENT'
            ? 'config file not found; create it (see examples/quickstart/switchyard.yaml) or pass --config <file>'
            : code === 'EISDIR'
              ? 'this is a directory; pass the YAML file with --config <file>'
              : `cannot read the config file (${code})`,
      },
    ]);
  }
  const masked = maskRefs(text);
  const lineCounter = new LineCounter();
  // logLevel 'error': yaml's own warnings (e.g. collection keys) go to stderr; we report them below.
  const doc = parseDocument(masked.text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    logLevel: 'error',
  });
  const locator = createLocator(file, doc, lineCounter);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const { line, column } = locator.offset(e.pos[0]);
        const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return {
          file,
          line,
          column,
          path: '',
          code: RunnerErrorCodes.CONFIG_SYNTAX,
          message: `YAML: ${message}`,
        };
      }),
    );
  }
  // A list or mapping used as a key would be stringified ("[ a, b ]") and then reported as an unknown
  // key that nobody wrote; say what is wrong where it is.
  const keyProblems: ConfigProblem[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (isCollection(pair.key)) {
        keyProblems.push({
          file,
          ...locator.offset(pair.key.range?.[0] ?? 0),
          path: '',
          code: RunnerErrorCodes.CONFIG_SYNTAX,
          message: 'a key must be plain text, not a list or a mapping; quote it if it is meant as text',
        });
      }
    },
  });
  if (keyProblems.length > 0) throw new ConfigError(keyProblems);
  const secrets = options.secrets ?? new Secrets();
  const dir = dirname(path);
  const resolver = createRefResolver({ refs: masked.refs, env: options.env ?? process.env, dir, secrets });
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    // yaml throws here, not in doc.errors, for an alias to an anchor defined later or never, and for
    // alias expansion beyond maxAliasCount ("billion laughs").
    throw new ConfigError([
      {
        file,
        ...locator.offset(0),
        path: '',
        code: RunnerErrorCodes.CONFIG_SYNTAX,
        message: `YAML: ${(error as Error).message}`,
      },
    ]);
  }
  return { path, dir, file, value: value ?? {}, locator, resolver, secrets };
}

/** Replaces references inside `value` (under `path`), collecting problems at each reference. */
function resolveRefs(
  value: unknown,
  path: (string | number)[],
  parsed: Parsed,
  problems: ConfigProblem[],
): unknown {
  if (typeof value === 'string') {
    if (!hasPlaceholder(value)) return value;
    const r = parsed.resolver.resolve(value);
    for (const p of r.problems) {
      const { line, column } = parsed.locator.offset(p.site.offset);
      problems.push({
        file: parsed.file,
        line,
        column,
        path: formatPathLocal(path),
        code: p.code,
        message: p.message,
      });
    }
    return r.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveRefs(v, [...path, i], parsed, problems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveRefs(v, [...path, k], parsed, problems);
    return out;
  }
  return value;
}

function formatPathLocal(path: ConfigPath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** Problems of a zod parse, placed in the file; unknown keys each get their own line and a did-you-mean. */
export function schemaProblems(
  error: z.ZodError,
  schema: z.ZodType,
  locator: Locator,
  base: ConfigPath = [],
  input?: unknown,
  invalidCode: string = RunnerErrorCodes.CONFIG_INVALID,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = [...base, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    if (issue.code === 'unrecognized_keys') {
      const known = shapeAt(schema, issue.path) ?? [];
      for (const key of issue.keys) {
        const guess = didYouMean(key, known);
        const message = `unknown key "${key}"${guess ? `; did you mean "${guess}"?` : ''}${
          known.length > 0 ? ` (allowed: ${known.join(', ')})` : ''
        }`;
        problems.push(
          locator.problem([...path, key], RunnerErrorCodes.CONFIG_UNKNOWN_KEY, message, { key: true }),
        );
      }
      continue;
    }
    problems.push(locator.problem(path, invalidCode, describeIssue(issue, valueAt(input, issue.path))));
  }
  return problems;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const seg of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[seg];
  }
  return current;
}

function found(value: unknown): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value);
  return text === undefined ? '' : `, found ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

/** zod's message, reworded where it would leave a person guessing. */
export function describeIssue(issue: z.core.$ZodIssue, value?: unknown): string {
  if (issue.code === 'invalid_union') {
    const discriminator = (issue as { note?: string; options?: unknown[] }).options;
    if (discriminator) {
      return `expected one of ${discriminator.join(', ')}${found(value)}`;
    }
    // The branch that got furthest says the most: a custom message beats a type mismatch.
    const branches = issue.errors.flat();
    const specific = branches.find((b) => b.code !== 'invalid_type');
    if (specific) return describeIssue(specific, value);
    const expected = [...new Set(branches.map((b) => (b as { expected?: string }).expected).filter(Boolean))];
    return `expected ${expected.join(' or ')}${found(value)}`;
  }
  if (issue.code === 'invalid_type') {
    const m = /received (\w+)/.exec(issue.message);
    if (m?.[1] === 'undefined') return `required (expected ${issue.expected})`;
    return `expected ${issue.expected}, found ${m?.[1] ?? 'another type'}`;
  }
  if (issue.code === 'invalid_value') {
    return `expected ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map((v) => JSON.stringify(v)).join(', ')}${found(value)}`;
  }
  return issue.message;
}

/**
 * Reads, parses and validates a config file: YAML syntax, references, the schema and the cross-field
 * rules. Every problem is reported at once in a ConfigError; secret values never appear in it.
 * Plugins and rules are checked later (prepare.ts) against what loaded.
 */
export function loadConfig(
  configPath: string = DEFAULT_CONFIG_FILE,
  options: LoadConfigOptions = {},
): LoadedConfig {
  const { loaded, problems } = collectConfig(configPath, options);
  if (problems.length > 0 || !loaded) throw redactedConfigError(problems, loaded?.secrets ?? new Secrets());
  return loaded;
}

/**
 * Like loadConfig, but returns the problems with a config built from every part that is valid (the
 * defaults stand in for a broken section; a broken rule or plugin entry is left out), so later
 * checks — plugins, rules — still run and every problem of the file is reported in one go.
 * `loaded` is missing only when the file cannot be read or parsed at all (those throw).
 */
export function collectConfig(
  configPath: string = DEFAULT_CONFIG_FILE,
  options: LoadConfigOptions = {},
): { loaded: LoadedConfig; problems: ConfigProblem[] } {
  const parsed = parseFile(configPath, options);
  const problems: ConfigProblem[] = [];
  // ArrayBuffer.isView: a document tagged `!!binary` parses to a Uint8Array, an object too.
  if (typeof parsed.value !== 'object' || Array.isArray(parsed.value) || ArrayBuffer.isView(parsed.value)) {
    throw new ConfigError([
      parsed.locator.problem(
        [],
        RunnerErrorCodes.CONFIG_INVALID,
        'the config must be a mapping (key: value lines)',
      ),
    ]);
  }
  const resolved = resolveRefs(parsed.value, [], parsed, problems) as Record<string, unknown>;
  const result = configSchema.safeParse(resolved);
  let config: SwitchyardConfig;
  let ruleIndexes: number[] | undefined;
  if (result.success) config = result.data;
  else {
    // A value whose reference failed is already reported; its schema complaint would only be noise.
    const refPaths = problems.map((p) => p.path);
    problems.push(
      ...schemaProblems(result.error, configSchema, parsed.locator, [], resolved).filter(
        (p) =>
          !refPaths.some((r) => p.path === r || p.path.startsWith(`${r}.`) || p.path.startsWith(`${r}[`)),
      ),
    );
    const partial = partialConfig(resolved);
    config = partial.config;
    ruleIndexes = partial.ruleIndexes;
  }
  if (config.server.token === undefined && !isLoopback(config.server.host)) {
    problems.push(
      parsed.locator.problem(
        ['server', 'host'],
        RunnerErrorCodes.CONFIG_INVALID,
        `server.token is required when the server listens on ${config.server.host} (not loopback); set token: \${env:SWITCHYARD_TOKEN}`,
      ),
    );
  }
  const seen = new Map<string, number>();
  config.rules.forEach((rule, i) => {
    const index = ruleIndexes?.[i] ?? i;
    const first = seen.get(rule.name);
    if (first !== undefined) {
      problems.push(
        parsed.locator.problem(
          ['rules', index, 'name'],
          RunnerErrorCodes.CONFIG_RULE_DUPLICATE,
          `rule name "${rule.name}" is already used by rules[${first}]; rule names name durable subscriptions and must be unique`,
        ),
      );
    } else seen.set(rule.name, index);
  });
  return {
    loaded: {
      path: parsed.path,
      dir: parsed.dir,
      file: parsed.file,
      config,
      locator: parsed.locator,
      secrets: parsed.secrets,
      ...(ruleIndexes ? { ruleIndexes } : {}),
    },
    problems,
  };
}

/** Every valid section; defaults for broken ones; valid rules and plugin entries only. */
function partialConfig(input: Record<string, unknown>): { config: SwitchyardConfig; ruleIndexes: number[] } {
  const shape = configSchema.shape;
  const pick = <K extends keyof typeof shape>(key: K) => {
    const r = shape[key].safeParse(input[key]);
    return (r.success ? r.data : shape[key].parse(undefined)) as SwitchyardConfig[K];
  };
  const rules: SwitchyardConfig['rules'] = [];
  const ruleIndexes: number[] = [];
  if (Array.isArray(input.rules)) {
    input.rules.forEach((rule, index) => {
      const r = ruleSchema.safeParse(rule);
      if (r.success) {
        rules.push(r.data);
        ruleIndexes.push(index);
      }
    });
  }
  const plugins: SwitchyardConfig['plugins'] = {};
  if (input.plugins && typeof input.plugins === 'object' && !Array.isArray(input.plugins)) {
    for (const [key, entry] of Object.entries(input.plugins)) {
      const r = pluginEntrySchema.safeParse(entry);
      if (r.success && /^[a-z][a-z0-9-]{0,63}$/.test(key)) plugins[key] = r.data;
    }
  }
  return {
    config: {
      server: pick('server'),
      store: pick('store'),
      plugins,
      rules,
      pipelines: pick('pipelines'),
      log: pick('log'),
    },
    ruleIndexes,
  };
}

/**
 * Only the `server` section, with only its references resolved: what client commands (emit, events,
 * dlq…) need, so a CI job does not have to provide every plugin's secrets.
 */
export function loadServerSection(
  configPath: string = DEFAULT_CONFIG_FILE,
  options: LoadConfigOptions = {},
): { server: z.output<typeof serverSchema>; secrets: Secrets; file: string } {
  const parsed = parseFile(configPath, options);
  const problems: ConfigProblem[] = [];
  const raw = (parsed.value as Record<string, unknown> | null)?.server ?? {};
  const resolved = resolveRefs(raw, ['server'], parsed, problems);
  const result = serverSchema.safeParse(resolved);
  if (!result.success)
    problems.push(...schemaProblems(result.error, serverSchema, parsed.locator, ['server'], resolved));
  if (problems.length > 0 || !result.success) throw redactedConfigError(problems, parsed.secrets);
  return { server: result.data, secrets: parsed.secrets, file: parsed.file };
}

/** All problems, in file order, with every secret value masked. */
export function redactedConfigError(problems: ConfigProblem[], secrets: Secrets): ConfigError {
  const sorted = problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.line - b.p.line || a.p.column - b.p.column || a.i - b.i)
    .map(({ p }) => ({ ...p, message: secrets.redact(p.message) }));
  return new ConfigError(sorted);
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
