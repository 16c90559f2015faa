// Finds and imports the modules named under `plugins:`. A module is looked up next to the config
// file first (so `npm install @switchyard/plugin-jira` beside switchyard.yaml works), then where the
// runner is installed. Each module is imported once per process; reloads reuse it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginEntry } from '@switchyard/core';
import type { LoadedConfig } from '../config/load.js';
import type { ConfigProblem } from '../errors.js';
import { RunnerErrorCodes } from '../errors.js';

export interface LoadedPlugins {
  entries: PluginEntry[];
  problems: ConfigProblem[];
  /** Keys whose module could not be loaded (rules naming them are not checked further). */
  failed: Set<string>;
}

const moduleCache = new Map<string, Promise<unknown>>();

export function defaultPackage(key: string): string {
  return `@switchyard/plugin-${key}`;
}

function isPathSpec(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec) || spec === '.' || spec === '..';
}

/** Resolves a bare module name from `dir`; undefined when it is not installed there. */
function resolveFrom(dir: string, spec: string): string | undefined {
  const require = createRequire(join(dir, '__switchyard__.js'));
  try {
    return require.resolve(spec);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return resolveEsmOnly(dir, spec);
    if (code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/** Packages that export only an `import` condition: find the package folder and read its exports. */
function resolveEsmOnly(dir: string, spec: string): string | undefined {
  let current = dir;
  for (;;) {
    const pkgDir = join(current, 'node_modules', spec);
    const manifest = join(pkgDir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: string };
      const root =
        typeof pkg.exports === 'object' && pkg.exports !== null && '.' in pkg.exports
          ? (pkg.exports as Record<string, unknown>)['.']
          : pkg.exports;
      const target = pickExport(root) ?? pkg.main ?? 'index.js';
      return join(pkgDir, target);
    }
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

function pickExport(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    for (const condition of ['import', 'node', 'default']) {
      const picked = pickExport((value as Record<string, unknown>)[condition]);
      if (picked) return picked;
    }
  }
  return undefined;
}

function importOnce(key: string, load: () => Promise<unknown>): Promise<unknown> {
  let promise = moduleCache.get(key);
  if (!promise) {
    promise = load();
    moduleCache.set(key, promise);
    promise.catch(() => moduleCache.delete(key));
  }
  return promise;
}

/** Imports every plugin module the config names; problems are collected with their config place. */
export async function loadPluginModules(loaded: LoadedConfig): Promise<LoadedPlugins> {
  const problems: ConfigProblem[] = [];
  const failed = new Set<string>();
  const entries: PluginEntry[] = [];
  const jobs = Object.entries(loaded.config.plugins).map(async ([key, entry]) => {
    const spec = entry.package ?? defaultPackage(key);
    const where = entry.package ? ['plugins', key, 'package'] : ['plugins', key];
    try {
      let module: unknown;
      let source = spec;
      if (isPathSpec(spec)) {
        const file = resolve(loaded.dir, spec);
        if (!existsSync(file)) {
          throw Object.assign(new Error(`plugin file ${file} does not exist`), { notFound: true });
        }
        source = file;
        module = await importOnce(file, () => import(pathToFileURL(file).href));
      } else {
        const local = resolveFrom(loaded.dir, spec);
        if (local) {
          source = `${spec} (${local})`;
          module = await importOnce(local, () => import(pathToFileURL(local).href));
        } else {
          // The runner's own dependencies (a global install, or the workspace during development).
          module = await importOnce(`bare:${spec}`, () => import(spec));
        }
      }
      entries.push({ key, module, options: entry.options ?? {}, source });
    } catch (error) {
      failed.add(key);
      const e = error as NodeJS.ErrnoException & { notFound?: boolean };
      const notFound =
        e.notFound ||
        ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') &&
          e.message.includes(spec.startsWith('.') ? resolve(loaded.dir, spec) : spec));
      problems.push(
        loaded.locator.problem(
          where,
          notFound ? RunnerErrorCodes.CONFIG_PLUGIN_NOT_FOUND : RunnerErrorCodes.CONFIG_PLUGIN_LOAD,
          notFound
            ? isPathSpec(spec)
              ? `${e.message}; fix plugins.${key}.package (paths are relative to the config file)`
              : `cannot find module "${spec}" next to ${loaded.file} or the runner; install it (npm install ${spec}) or set plugins.${key}.package`
            : `loading "${spec}" failed: ${firstLine(e.message)}`,
          { key: !entry.package },
        ),
      );
    }
  });
  await Promise.all(jobs);
  // Keep config order (the host starts plugins in dependency order anyway).
  const order = Object.keys(loaded.config.plugins);
  entries.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  return { entries, problems, failed };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
