// Every error code of @switchyard/runner lives here. docs/errors/runner.md documents each one with a
// fix; errors.test.ts fails when a code is missing there.
import { SwitchyardError } from '@switchyard/core';

export const RunnerErrorCodes = {
  // config file
  CONFIG_NOT_FOUND: 'SY_CONFIG_NOT_FOUND',
  CONFIG_SYNTAX: 'SY_CONFIG_SYNTAX',
  CONFIG_INVALID: 'SY_CONFIG_INVALID',
  CONFIG_UNKNOWN_KEY: 'SY_CONFIG_UNKNOWN_KEY',
  CONFIG_REF_MISSING: 'SY_CONFIG_REF_MISSING',
  CONFIG_REF_INVALID: 'SY_CONFIG_REF_INVALID',
  // plugins named by the config
  CONFIG_PLUGIN_NOT_FOUND: 'SY_CONFIG_PLUGIN_NOT_FOUND',
  CONFIG_PLUGIN_LOAD: 'SY_CONFIG_PLUGIN_LOAD',
  // rules and pipelines
  CONFIG_RULE_DUPLICATE: 'SY_CONFIG_RULE_DUPLICATE',
  CONFIG_RULE_EVENT: 'SY_CONFIG_RULE_EVENT',
  CONFIG_RULE_ACTION: 'SY_CONFIG_RULE_ACTION',
  CONFIG_RULE_PARAMS: 'SY_CONFIG_RULE_PARAMS',
  CONFIG_TEMPLATE: 'SY_CONFIG_TEMPLATE',
  CONFIG_PIPELINE: 'SY_CONFIG_PIPELINE',
  // daemon
  RUNNER_STORE: 'SY_RUNNER_STORE',
  RUNNER_LISTEN: 'SY_RUNNER_LISTEN',
  RUNNER_RELOAD_REJECTED: 'SY_RUNNER_RELOAD_REJECTED',
  // HTTP API answers
  RUNNER_UNAUTHORIZED: 'SY_RUNNER_UNAUTHORIZED',
  RUNNER_FORBIDDEN: 'SY_RUNNER_FORBIDDEN',
  RUNNER_BAD_REQUEST: 'SY_RUNNER_BAD_REQUEST',
  RUNNER_BODY_TOO_LARGE: 'SY_RUNNER_BODY_TOO_LARGE',
  RUNNER_UNSUPPORTED_MEDIA_TYPE: 'SY_RUNNER_UNSUPPORTED_MEDIA_TYPE',
  RUNNER_NOT_FOUND: 'SY_RUNNER_NOT_FOUND',
  RUNNER_METHOD_NOT_ALLOWED: 'SY_RUNNER_METHOD_NOT_ALLOWED',
  RUNNER_WEBHOOK_FAILED: 'SY_RUNNER_WEBHOOK_FAILED',
  RUNNER_NOT_READY: 'SY_RUNNER_NOT_READY',
  RUNNER_STORE_UNAVAILABLE: 'SY_RUNNER_STORE_UNAVAILABLE',
  RUNNER_INTERNAL: 'SY_RUNNER_INTERNAL',
  // CLI and client
  RUNNER_USAGE: 'SY_RUNNER_USAGE',
  RUNNER_UNREACHABLE: 'SY_RUNNER_UNREACHABLE',
  RUNNER_REQUEST_FAILED: 'SY_RUNNER_REQUEST_FAILED',
  RUNNER_INPUT: 'SY_RUNNER_INPUT',
} as const;

export type RunnerErrorCode = (typeof RunnerErrorCodes)[keyof typeof RunnerErrorCodes];

/** One problem in a config file (or a file it names), with its place. */
export interface ConfigProblem {
  file: string;
  /** 1-based; 0 when the problem has no place in the file (e.g. the file is missing). */
  line: number;
  column: number;
  /** Dotted config path, e.g. `plugins.jira.options.baseUrl`; "" for the whole file. */
  path: string;
  code: string;
  message: string;
}

/** `file:line:col path: message [code]` — the form editors and terminals turn into links. */
export function formatProblem(p: ConfigProblem): string {
  const place = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${place}: ${p.path ? `${p.path}: ` : ''}${p.message} [${p.code}]`;
}

/** Thrown when a config (at start, reload or check) has problems; carries all of them. */
export class ConfigError extends SwitchyardError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    const first = problems[0];
    super(
      first?.code ?? RunnerErrorCodes.CONFIG_INVALID,
      `${problems.length} config problem${problems.length === 1 ? '' : 's'}:\n${problems
        .map((p) => `  ${formatProblem(p)}`)
        .join('\n')}`,
      { details: { problems } },
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class RunnerError extends SwitchyardError {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(code: RunnerErrorCode, message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'RunnerError';
    this.exitCode = options.exitCode ?? 1;
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof Error && Array.isArray((error as Partial<ConfigError>).problems);
}
