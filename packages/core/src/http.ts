import type { Dispatcher } from 'undici';
import { type Clock, systemClock } from './clock.js';
import { ErrorCodes, RetryableError } from './errors.js';
import type { SwitchyardMetrics } from './metrics.js';

export interface HttpClientOptions {
  /** Plugin id, for metrics and error messages. */
  plugin: string;
  /** Per-request budget (headers and body), overridable per call. */
  timeoutMs?: number;
  /** undici dispatcher: an Agent in production, a MockAgent or recorder in tests. */
  dispatcher?: Dispatcher;
  metrics?: SwitchyardMetrics;
  clock?: Clock;
  /**
   * 429/503 answers whose Retry-After is at most this long are retried in place; longer waits are
   * returned to the plugin, which raises a retryable error so the bus schedules the retry durably
   * instead of holding a delivery open.
   */
  maxInlineRetryDelayMs?: number;
  maxInlineRetries?: number;
}

export interface HttpRequestOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  /** A string or Buffer is sent as is; anything else as JSON. */
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Set false to turn off in-place retries on 429/503 for this call. */
  retry?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  /** Parses the body as JSON; undefined when it is not JSON. */
  json<T = unknown>(): T | undefined;
  header(name: string): string | undefined;
}

// undici is loaded on the first outbound call, not with core: its entry point pulls in fetch,
// WebSocket, the cache and the mocks (~60-100 ms and several MB), and a daemon whose plugins have not
// sent anything yet needs none of it. One promise, so concurrent first calls share the import.
let undici: Promise<typeof import('undici')> | undefined;
function loadUndici(): Promise<typeof import('undici')> {
  undici ??= import('undici');
  return undici;
}

/**
 * Outbound HTTP for plugins, on undici's request API (several times the throughput of fetch):
 * per-plugin timeouts, short in-place retries on 429/503 honouring Retry-After, metrics by status,
 * and errors that never carry the URL's query string (tokens live there, e.g. DingTalk's).
 */
export class HttpClient {
  readonly #options: Required<Omit<HttpClientOptions, 'dispatcher' | 'metrics'>> &
    Pick<HttpClientOptions, 'dispatcher' | 'metrics'>;

  constructor(options: HttpClientOptions) {
    this.#options = {
      timeoutMs: 10_000,
      clock: systemClock,
      maxInlineRetryDelayMs: 2_000,
      maxInlineRetries: 2,
      ...options,
    };
  }

  get plugin(): string {
    return this.#options.plugin;
  }

  async request(url: string | URL, options: HttpRequestOptions = {}): Promise<HttpResponse> {
    const o = this.#options;
    const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Buffer | undefined;
    if (options.body !== undefined) {
      if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) body = options.body;
      else {
        body = JSON.stringify(options.body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
          headers['content-type'] = 'application/json';
        }
      }
    }
    const timeoutMs = options.timeoutMs ?? o.timeoutMs;
    const where = describeUrl(url);
    const { request, errors: undiciErrors } = await loadUndici();
    for (let attempt = 0; ; attempt++) {
      let response: HttpResponse;
      // undici's own timeouts are coarse for small values; an AbortSignal timer is exact.
      const timer = AbortSignal.timeout(timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timer]) : timer;
      try {
        const res = await request(url, {
          method,
          headers,
          body,
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          dispatcher: o.dispatcher,
        });
        const buffer = Buffer.from(await res.body.arrayBuffer());
        response = makeResponse(res.statusCode, res.headers, buffer);
      } catch (error) {
        o.metrics?.httpRequests.inc({ plugin: o.plugin, method, status: 'error' });
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        if (
          timer.aborted ||
          error instanceof undiciErrors.HeadersTimeoutError ||
          error instanceof undiciErrors.BodyTimeoutError
        ) {
          throw new RetryableError(
            ErrorCodes.HTTP_TIMEOUT,
            `${method} ${where} timed out after ${timeoutMs} ms`,
            {
              details: { plugin: o.plugin },
            },
          );
        }
        const code = (error as { code?: string }).code;
        throw new RetryableError(
          ErrorCodes.HTTP_NETWORK,
          `${method} ${where} failed: ${code ?? (error as Error).message}`,
          { details: { plugin: o.plugin, cause: code } },
        );
      }
      o.metrics?.httpRequests.inc({ plugin: o.plugin, method, status: String(response.status) });
      if ((response.status === 429 || response.status === 503) && options.retry !== false) {
        const delay = parseRetryAfter(response.header('retry-after'), o.clock.now()) ?? 1_000;
        if (attempt < o.maxInlineRetries && delay <= o.maxInlineRetryDelayMs) {
          await o.clock.sleep(delay, options.signal);
          continue;
        }
      }
      return response;
    }
  }
}

function makeResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): HttpResponse {
  return {
    status,
    headers,
    body,
    text: () => body.toString('utf8'),
    json<T>() {
      try {
        return JSON.parse(body.toString('utf8')) as T;
      } catch {
        return undefined;
      }
    },
    header(name) {
      const v = headers[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
  };
}

/** Origin and path only: query strings carry tokens (DingTalk's access_token) and never reach logs. */
export function describeUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Retry-After in ms from either form HTTP allows: delay-seconds or an HTTP-date.
 * Returns undefined when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | undefined | null,
  now: number = Date.now(),
): number | undefined {
  if (value === undefined || value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
