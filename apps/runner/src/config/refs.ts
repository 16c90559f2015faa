// `${env:NAME}` and `${file:PATH}` references. They are swapped for same-length placeholders before
// the YAML is parsed — so `token: ${env:X}` also works inside a flow mapping `{ … }`, where `{` and
// `}` would otherwise end the scalar — and every line:column stays exact. After parsing, each
// placeholder is replaced by the value it names, which is registered as a secret.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Secrets } from '@switchyard/core';

export interface RefSite {
  kind: 'env' | 'file';
  name: string;
  /** The reference as written, e.g. `${env:JIRA_TOKEN}`. */
  raw: string;
  /** Offset in the source text. */
  offset: number;
}

const REF = /\$\{(env|file):([^}\n]*)\}/g;
const START = '\uE000';
const FILL = '\uE001';
const END = '\uE002';
const PLACEHOLDER = /\uE000([0-9a-z]+)\uE001*\uE002/g;

/** Replaces every reference by a placeholder of the same length; returns the sites by index. */
export function maskRefs(text: string): { text: string; refs: RefSite[] } {
  const refs: RefSite[] = [];
  const masked = text.replace(REF, (raw, kind: 'env' | 'file', name: string, offset: number) => {
    const index = refs.length.toString(36);
    if (index.length + 2 > raw.length) return raw; // cannot happen for refs of 8+ characters
    refs.push({ kind, name, raw, offset });
    return START + index + FILL.repeat(raw.length - index.length - 2) + END;
  });
  return { text: masked, refs };
}

export function hasPlaceholder(value: string): boolean {
  return value.includes(START);
}

export interface RefProblem {
  site: RefSite;
  code: 'SY_CONFIG_REF_MISSING' | 'SY_CONFIG_REF_INVALID';
  message: string;
}

export interface RefResolver {
  /** Replaces placeholders in `value`; problems are collected, not thrown. */
  resolve(value: string): { value: string; problems: RefProblem[] };
}

export function createRefResolver(options: {
  refs: readonly RefSite[];
  env: NodeJS.ProcessEnv | Record<string, string | undefined>;
  /** Directory `${file:relative}` paths are resolved against (the config file's). */
  dir: string;
  secrets: Secrets;
}): RefResolver {
  const cache = new Map<number, { value?: string; problem?: RefProblem }>();
  const lookup = (index: number) => {
    const cached = cache.get(index);
    if (cached) return cached;
    const site = options.refs[index]!;
    const result = resolveSite(site, options.env, options.dir);
    if (result.value !== undefined) options.secrets.add(result.value);
    cache.set(index, result);
    return result;
  };
  return {
    resolve(value) {
      const problems: RefProblem[] = [];
      const out = value.replace(PLACEHOLDER, (_m, index: string) => {
        const r = lookup(Number.parseInt(index, 36));
        if (r.problem) {
          problems.push(r.problem);
          return '';
        }
        return r.value!;
      });
      return { value: out, problems };
    },
  };
}

function resolveSite(
  site: RefSite,
  env: Record<string, string | undefined>,
  dir: string,
): { value?: string; problem?: RefProblem } {
  if (site.kind === 'env') {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(site.name)) {
      return {
        problem: {
          site,
          code: 'SY_CONFIG_REF_INVALID',
          message: `${site.raw} is not a valid reference: an environment variable name is letters, digits and _`,
        },
      };
    }
    const value = env[site.name];
    if (value === undefined || value === '') {
      return {
        problem: {
          site,
          code: 'SY_CONFIG_REF_MISSING',
          message: `environment variable ${site.name} is ${value === '' ? 'empty' : 'not set'} (referenced as ${site.raw}); export it before starting switchyard`,
        },
      };
    }
    return { value };
  }
  if (site.name.trim() === '') {
    return {
      problem: { site, code: 'SY_CONFIG_REF_INVALID', message: `${site.raw} names no file` },
    };
  }
  const path = isAbsolute(site.name) ? site.name : resolve(dir, site.name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      problem: {
        site,
        code: 'SY_CONFIG_REF_MISSING',
        message: `cannot read secret file ${path} (${code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code}) referenced as ${site.raw}`,
      },
    };
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') {
    return {
      problem: { site, code: 'SY_CONFIG_REF_MISSING', message: `secret file ${path} is empty (${site.raw})` },
    };
  }
  return { value };
}
