// Helpers for suites that run the daemon as users run it: a config file in a temp directory, the
// built CLI (`node apps/runner/dist/cli.js run --config <file>`) as a child process on a loopback
// port, its JSON log lines collected, stopped with SIGTERM (graceful) or SIGKILL (a crash).
//
//   const dir = tempDir();
//   const config = writeConfig(dir, yamlText);
//   const d = await spawnDaemon({ config, env: { SWITCHYARD_TOKEN: token } });
//   const api = new Api(d.url, token);
//   await api.postEvent(event);   // …
//   expect(await d.stop()).toEqual({ code: 0, signal: null });
//
// The CLI must be built (`pnpm build`, or `pnpm test`, whose turbo task builds dependencies first).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, type Dispatcher, request } from 'undici';

export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');
export const CLI = join(REPO_ROOT, 'apps/runner/dist/cli.js');

function assertBuilt(): void {
  if (!existsSync(CLI)) {
    throw new Error(
      `${CLI} is missing: build the runner first (pnpm -s turbo run build --filter=@switchyard/runner...)`,
    );
  }
}

export function tempDir(prefix = 'sy-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `text` to `<dir>/<name>` and returns the path. */
export function writeConfig(dir: string, text: string, name = 'switchyard.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A loopback port that was free a moment ago (for restarts on the same port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Every stdout line so far (the daemon's JSON log), in order. */
  readonly lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** True until the process exits. */
  alive(): boolean;
  /** SIGKILL: a crash; resolves with the exit status. */
  kill(): Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit status. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

export interface SpawnDaemonOptions {
  config: string;
  /** Extra environment (secrets for `${env:…}`); the parent's PATH/HOME etc. are kept. */
  env?: Record<string, string | undefined>;
  /** `--port` override (e.g. a fixed port from freePort() to restart on the same URL). */
  port?: number;
  readyTimeoutMs?: number;
}

/** Base environment for child processes: the parent's, minus anything that would steer the CLI. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.SWITCHYARD_URL;
  delete env.SWITCHYARD_TOKEN;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

/**
 * Starts `switchyard run` and resolves once its "switchyard ready" line is logged (log.level info or
 * lower), or, when `port` is given, once GET /readyz answers 200.
 */
export async function spawnDaemon(options: SpawnDaemonOptions): Promise<DaemonProcess> {
  assertBuilt();
  const args = [CLI, 'run', '--config', options.config];
  if (options.port !== undefined) args.push('--port', String(options.port));
  const child = spawn(process.execPath, args, {
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffer = '';
  let stderr = '';
  let readyLine: string | undefined;
  let onReady: (() => void) | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (!readyLine && line.includes('"switchyard ready"')) {
        readyLine = line;
        onReady?.();
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  let alive = true;
  const exited = new Promise<ExitStatus>((r) =>
    child.on('exit', (code, signal) => {
      alive = false;
      if (buffer) lines.push(buffer);
      r({ code, signal });
    }),
  );
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(
        new Error(`daemon not ready within ${timeoutMs} ms; stderr: ${stderr}\nstdout: ${lines.join('\n')}`),
      );
    }, timeoutMs);
    onReady = () => {
      clearTimeout(timer);
      done();
    };
    if (readyLine) onReady();
    // With a known port, /readyz also counts (a config with log.level above info logs no ready line).
    if (options.port !== undefined) {
      const poll = async () => {
        while (alive && !readyLine) {
          try {
            const res = await request(`http://127.0.0.1:${options.port}/readyz`, { headersTimeout: 2000 });
            await res.body.dump();
            if (res.statusCode === 200) {
              readyLine = JSON.stringify({ url: `http://127.0.0.1:${options.port}` });
              onReady?.();
              return;
            }
          } catch {
            // not listening yet
          }
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      void poll();
    }
    void exited.then((s) => {
      clearTimeout(timer);
      fail(new Error(`daemon exited (${s.code ?? s.signal}) before ready: ${stderr}\n${lines.join('\n')}`));
    });
  });
  const url = (JSON.parse(readyLine!) as { url: string }).url;
  const port = Number(new URL(url).port);
  const signalAndWait = async (signal: NodeJS.Signals, killAfterMs?: number) => {
    if (!alive) return exited;
    child.kill(signal);
    if (killAfterMs !== undefined) {
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const status = await exited;
      clearTimeout(timer);
      return status;
    }
    return exited;
  };
  return {
    child,
    url,
    port,
    lines,
    stderr: () => stderr,
    exited,
    alive: () => alive,
    kill: () => signalAndWait('SIGKILL'),
    stop: (ms = 20_000) => signalAndWait('SIGTERM', ms),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `switchyard <args>` to completion (built CLI, child process). */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  assertBuilt();
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: childEnv(env),
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
        ...(options.cwd ? { cwd: options.cwd } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

export interface ApiResponse<T = unknown> {
  status: number;
  /** Parsed JSON when the body is JSON, else the text. */
  body: T;
  /** The body exactly as received. */
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A small HTTP client for the daemon's API with its bearer token; never throws on an HTTP status
 * (network errors do throw). One keep-alive pool per instance; close() it when done.
 */
export class Api {
  readonly dispatcher: Dispatcher;
  constructor(
    readonly url: string,
    readonly token?: string,
    options: { connections?: number } = {},
  ) {
    this.dispatcher = new Agent({ connections: options.connections ?? 64, pipelining: 1 });
  }

  async send<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: { body?: string | Buffer; headers?: Record<string, string>; auth?: boolean } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.token && options.auth !== false) headers.authorization = `Bearer ${this.token}`;
    const res = await request(this.url + path, {
      method,
      headers,
      dispatcher: this.dispatcher,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
    const text = await res.body.text();
    let body: unknown = text;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
    }
    return { status: res.statusCode, body: body as T, text, headers: res.headers };
  }

  get<T = unknown>(path: string): Promise<ApiResponse<T>> {
    return this.send<T>('GET', path);
  }

  /** POST /events in structured mode (application/cloudevents+json). */
  postEvent(event: Record<string, unknown>): Promise<ApiResponse<{ id: string; duplicate: boolean }>> {
    return this.send('POST', '/events', {
      body: JSON.stringify(event),
      headers: { 'content-type': 'application/cloudevents+json' },
    });
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

/** Polls `fn` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  what = 'condition',
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** A small seeded PRNG (mulberry32) so a failing random run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
