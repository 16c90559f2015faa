// The HTTP client the CLI uses to talk to a running daemon (undici).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Secrets } from '@switchyard/core';
import { request } from 'undici';
import { DEFAULT_CONFIG_FILE, loadServerSection } from './config/load.js';
import { RunnerError, RunnerErrorCodes } from './errors.js';

export interface ClientOptions {
  url: string;
  token?: string | undefined;
  /** Masks the token (and config secrets) in anything the client reports. */
  secrets?: Secrets;
  timeoutMs?: number;
}

export interface ApiErrorBody {
  error?: { code?: string; message?: string; issues?: Array<{ path: string; message: string }> };
}

export class SwitchyardClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #secrets: Secrets;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new RunnerError(
        RunnerErrorCodes.RUNNER_USAGE,
        `--url "${options.url}" is not a URL; expected e.g. http://127.0.0.1:8080`,
        { exitCode: 2 },
      );
    }
    this.url = parsed.href.replace(/\/+$/, '');
    this.#token = options.token;
    this.#secrets = options.secrets ?? new Secrets();
    if (options.token) this.#secrets.add(options.token);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Sends a request; resolves with status and parsed JSON body (undefined when the body is empty). */
  async send(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: {
      query?: Record<string, string | number | undefined>;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<{ status: number; body: unknown }> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    try {
      const response = await request(url, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      const text = await response.body.text();
      let body: unknown;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      return { status: response.statusCode, body };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
      throw new RunnerError(
        RunnerErrorCodes.RUNNER_UNREACHABLE,
        this.#secrets.redact(
          `cannot reach the daemon at ${this.url} (${code}); is \`switchyard run\` running? Set --url or SWITCHYARD_URL`,
        ),
        { cause: error },
      );
    }
  }

  /** Like send, but a non-2xx answer becomes a RunnerError with the daemon's reason. */
  async call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: Parameters<SwitchyardClient['send']>[2] = {},
  ): Promise<unknown> {
    const { status, body } = await this.send(method, path, options);
    if (status >= 200 && status < 300) return body;
    throw this.failure(status, body, `${method} ${path}`);
  }

  failure(status: number, body: unknown, what: string): RunnerError {
    const error = (body as ApiErrorBody | undefined)?.error;
    const reason = error?.message ?? (typeof body === 'string' ? body.slice(0, 200) : 'no reason given');
    const issues = error?.issues?.length
      ? `\n${error.issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`
      : '';
    return new RunnerError(
      RunnerErrorCodes.RUNNER_REQUEST_FAILED,
      this.#secrets.redact(`${what} → ${status}: ${reason}${error?.code ? ` [${error.code}]` : ''}${issues}`),
    );
  }
}

/**
 * --url/--token, else SWITCHYARD_URL/SWITCHYARD_TOKEN, else the config's server section (only that
 * section is read, so a CI job needs none of the plugins' secrets).
 */
export function clientFromOptions(options: {
  url?: string;
  token?: string;
  config?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
}): SwitchyardClient {
  const env = options.env ?? process.env;
  let url = options.url ?? env.SWITCHYARD_URL;
  let token = options.token ?? env.SWITCHYARD_TOKEN;
  const secrets = new Secrets();
  const configPath = options.config ?? DEFAULT_CONFIG_FILE;
  const explicitConfig = options.config !== undefined;
  if ((!url || !token) && (explicitConfig || existsSync(resolve(options.cwd ?? process.cwd(), configPath)))) {
    const { server, secrets: configSecrets } = loadServerSection(configPath, {
      env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    if (server.token) secrets.add(server.token);
    void configSecrets;
    const host = server.host === '0.0.0.0' || server.host === '::' ? '127.0.0.1' : server.host;
    url ??= `http://${host.includes(':') ? `[${host}]` : host}:${server.port}`;
    token ??= server.token;
  }
  return new SwitchyardClient({ url: url ?? 'http://127.0.0.1:8080', token, secrets });
}
