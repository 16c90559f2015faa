// The built CLI as users run it: `node dist/cli.js run …` as a daemon child process, and one-shot
// commands (`emit`, `trace`, `pipeline …`). Shared by the suites that test the CLI end to end.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { until } from './helpers.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist', 'cli.js');

function newestSource(dir: string): number {
  let max = 0;
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.test.ts')) {
      max = Math.max(max, statSync(join(d.parentPath, d.name)).mtimeMs);
    }
  }
  return max;
}

/**
 * Builds the runner's dist/ when it is missing or older than the sources (a plain `vitest run`),
 * and each package in `alsoBuild` (directories) whose dist/ is missing.
 */
export function ensureBuilt(alsoBuild: readonly string[] = []): void {
  const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  const buildInfo = join(ROOT, 'dist', '.tsbuildinfo');
  if (
    !existsSync(CLI) ||
    !existsSync(buildInfo) ||
    statSync(buildInfo).mtimeMs < newestSource(join(ROOT, 'src'))
  ) {
    execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
  for (const dir of alsoBuild) {
    if (!existsSync(join(dir, 'dist', 'index.js'))) {
      execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
    }
  }
}

/** The parent's environment without the variables that would point the CLI at another daemon. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.SWITCHYARD_URL;
  delete env.SWITCHYARD_TOKEN;
  return env;
}

export interface Running {
  child: ChildProcess;
  url: string;
  /** stdout lines (the JSON log) so far. */
  lines: string[];
  exit: Promise<number | null>;
}

/** Starts `switchyard run --config <config>` and resolves once it logs "switchyard ready". */
export async function runDaemon(
  config: string,
  env: NodeJS.ProcessEnv,
  readyTimeoutMs = 20_000,
): Promise<Running> {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = await Promise.race([
    until(() => lines.find((l) => l.includes('"switchyard ready"')), readyTimeoutMs),
    exit.then((code) => {
      throw new Error(`daemon exited with ${code}: ${stderr}${lines.join('\n')}`);
    }),
  ]);
  return { child, url: JSON.parse(ready).url, lines, exit };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `switchyard <args>` to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { env, ...(cwd ? { cwd } : {}) }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
