// From a loaded config to a core that is ready to start: plugin modules imported and validated,
// their event types registered, rules compiled and pipeline files found — all before any plugin
// code runs. `check`, `run` and a SIGHUP reload all go through here, so they agree on what is valid.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import {
  type Clock,
  type Core,
  createCore,
  ErrorCodes,
  type Logger,
  MemoryTransport,
  type PluginEntry,
  type PluginProblem,
  PluginValidationError,
  type SwitchyardMetrics,
  type Transport,
  unwrapPlugin,
} from '@switchyard/core';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { parseDottedPath } from './config/errors.js';
import {
  collectConfig,
  type LoadConfigOptions,
  type LoadedConfig,
  redactedConfigError,
  schemaProblems,
} from './config/load.js';
import { type ConfigProblem, isConfigError, RunnerErrorCodes } from './errors.js';
import { loadPluginModules } from './plugins/load.js';
import { type CompiledRule, compileRules } from './rules/compile.js';

export interface Prepared {
  loaded: LoadedConfig;
  core: Core;
  rules: CompiledRule[];
  /** Absolute paths of the pipeline files. */
  pipelines: string[];
}

export interface PrepareOptions {
  /** The daemon's open store; `check` leaves it out and validates against a throwaway memory store. */
  transport?: Transport;
  logger?: Logger;
  metrics?: SwitchyardMetrics;
  clock?: Clock;
  httpDispatcher?: Dispatcher;
  bootTimeoutMs?: number;
}

/** Throws a ConfigError with every problem found (plugins, options, rules, pipelines). */
export async function prepare(loaded: LoadedConfig, options: PrepareOptions = {}): Promise<Prepared> {
  const problems: ConfigProblem[] = [];
  const plugins = await loadPluginModules(loaded);
  problems.push(...plugins.problems);

  const pipelines = findPipelines(loaded, problems);
  const entries = plugins.entries.map((entry) =>
    entry.key === 'pipeline' && pipelines.length > 0 ? withPipelineFiles(entry, pipelines) : entry,
  );
  if (loaded.config.pipelines.length > 0 && !loaded.config.plugins.pipeline) {
    problems.push(
      loaded.locator.problem(
        ['pipelines'],
        RunnerErrorCodes.CONFIG_PIPELINE,
        'pipeline files need the pipeline plugin; add `pipeline: { options: {} }` under plugins',
      ),
    );
  }

  const core = createCore({
    transport: options.transport ?? new MemoryTransport(),
    secrets: loaded.secrets,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    host: {
      ...(options.httpDispatcher ? { httpDispatcher: options.httpDispatcher } : {}),
      ...(options.bootTimeoutMs !== undefined ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
    },
  });

  const failed = new Set(plugins.failed);
  // The host validates and registers in one go; only when it refuses are the problems sorted out
  // below and the good entries added on their own. Parsing every plugin's options a second and a
  // third time (validate, then add) was a visible share of start-up: the pipeline plugin's options
  // load and check every pipeline file.
  let hostProblems: PluginProblem[] = [];
  try {
    core.host.add(entries);
  } catch (error) {
    if (!(error instanceof PluginValidationError)) throw error;
    hostProblems = error.problems;
  }
  // The options of a refused plugin are parsed again here for messages with the expected/found
  // wording, did-you-mean for misspelt keys and the place of each key; the host's own option
  // messages are then redundant. (Options of a plugin the host accepted parse without a problem.)
  const refused = new Set(hostProblems.map((p) => parseDottedPath(p.path)[1]));
  const optionProblems = new Set<string>();
  for (const entry of entries) {
    if (!refused.has(entry.key)) continue;
    const def = unwrapPlugin(entry.module) as { config?: z.ZodType } | undefined;
    if (typeof def?.config?.safeParse !== 'function') continue;
    const parsed = def.config.safeParse(entry.options ?? {});
    if (parsed.success) continue;
    optionProblems.add(entry.key);
    failed.add(entry.key);
    problems.push(
      ...schemaProblems(
        parsed.error,
        def.config,
        loaded.locator,
        ['plugins', entry.key, 'options'],
        entry.options,
        ErrorCodes.PLUGIN_CONFIG_INVALID,
      ),
    );
  }
  for (const p of hostProblems) {
    if (p.code === ErrorCodes.PLUGIN_CONFIG_INVALID && optionProblems.has(parseDottedPath(p.path)[1] ?? ''))
      continue;
    const segments = parseDottedPath(p.path);
    // The runner adds `options.pipelines`; a complaint about it belongs to the top-level list.
    const where =
      segments[0] === 'plugins' &&
      segments[2] === 'options' &&
      segments[3] === 'pipelines' &&
      segments[1] === 'pipeline'
        ? ['pipelines']
        : segments;
    const key = segments[1];
    if (key) failed.add(key);
    problems.push(loaded.locator.problem(where, p.code, p.message));
  }
  if (hostProblems.length > 0) {
    try {
      core.host.add(entries.filter((e) => !failed.has(e.key)));
    } catch {
      // Reported above; rules are then checked against the core types only.
    }
  }

  const compiled = compileRules(loaded, core, { failedPlugins: failed });
  problems.push(...compiled.problems);
  if (problems.length > 0) throw redactedConfigError(problems, loaded.secrets);
  return { loaded, core, rules: compiled.rules, pipelines };
}

/**
 * Loads the config and prepares it, reporting the problems of both stages together (a typo under
 * `server:` does not hide an unknown action in a rule).
 */
export async function loadAndPrepare(
  configPath: string | undefined,
  loadOptions: LoadConfigOptions,
  options: PrepareOptions = {},
): Promise<Prepared> {
  const { loaded, problems } = collectConfig(configPath, loadOptions);
  try {
    const prepared = await prepare(loaded, options);
    if (problems.length === 0) return prepared;
  } catch (error) {
    if (!isConfigError(error)) throw error;
    problems.push(...error.problems);
  }
  throw redactedConfigError(problems, loaded.secrets);
}

/** The pipeline plugin receives the resolved files as `options.pipelines` (absolute paths). */
function withPipelineFiles(entry: PluginEntry, files: string[]): PluginEntry {
  const options = (entry.options ?? {}) as Record<string, unknown>;
  if (typeof options !== 'object' || options === null || 'pipelines' in options) return entry;
  return { ...entry, options: { ...options, pipelines: files } };
}

/** Paths and `*` globs (in the file name part) relative to the config file. */
function findPipelines(loaded: LoadedConfig, problems: ConfigProblem[]): string[] {
  const out: string[] = [];
  loaded.config.pipelines.forEach((pattern, index) => {
    const full = isAbsolute(pattern) ? pattern : resolve(loaded.dir, pattern);
    const name = basename(full);
    if (name.includes('*') || name.includes('?')) {
      const dir = dirname(full);
      if (/[*?]/.test(dir)) {
        problems.push(
          loaded.locator.problem(
            ['pipelines', index],
            RunnerErrorCodes.CONFIG_PIPELINE,
            `only the file name part of a pipeline pattern may hold * or ? ("${pattern}")`,
          ),
        );
        return;
      }
      const re = new RegExp(
        `^${name
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')}$`,
      );
      const matches = existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => re.test(f))
            .map((f) => join(dir, f))
            .filter((f) => statSync(f).isFile())
            .sort()
        : [];
      if (matches.length === 0) {
        problems.push(
          loaded.locator.problem(
            ['pipelines', index],
            RunnerErrorCodes.CONFIG_PIPELINE,
            `no pipeline file matches "${pattern}" (looked in ${dir})`,
          ),
        );
      }
      out.push(...matches);
      return;
    }
    if (!existsSync(full) || !statSync(full).isFile()) {
      problems.push(
        loaded.locator.problem(
          ['pipelines', index],
          RunnerErrorCodes.CONFIG_PIPELINE,
          `pipeline file ${full} does not exist (paths are relative to the config file)`,
        ),
      );
      return;
    }
    out.push(full);
  });
  return [...new Set(out)];
}
