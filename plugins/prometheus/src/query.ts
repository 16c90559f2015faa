import {
  describeUrl,
  ErrorCodes,
  type HttpClient,
  type HttpResponse,
  isSwitchyardError,
  PermanentError,
  parseRetryAfter,
  RetryableError,
} from '@switchyard/core';
import { PrometheusErrorCodes as Codes } from './errors.js';
import type { PrometheusOptions } from './options.js';

/** One series of an instant query's answer, value parsed. */
export interface QuerySample {
  /** Evaluation time, ms since the epoch. */
  time: number;
  /** NaN means "no data"; ±Infinity are real values. */
  value: number;
  /** The value exactly as Prometheus wrote it: "0.032", "1e-05", "+Inf", "-Inf", "NaN". */
  raw: string;
  labels: Record<string, string>;
}

export interface QueryResult {
  resultType: 'vector' | 'scalar';
  samples: QuerySample[];
  warnings: string[];
}

/**
 * Parses a sample value as Prometheus writes it: a decimal string, or "NaN", "+Inf", "-Inf".
 * (`parseFloat("+Inf")` is NaN, which would turn a real +Inf into "no data".)
 */
export function parseSampleValue(text: unknown): number {
  if (typeof text !== 'string')
    throw new TypeError(`sample value must be a string, got ${JSON.stringify(text)}`);
  switch (text) {
    case 'NaN':
      return Number.NaN;
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
  }
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (Number.isNaN(value)) throw new TypeError(`sample value ${JSON.stringify(text)} is not a number`);
  return value;
}

/** The Prometheus HTTP API, through the plugin's HTTP client (timeouts, metrics, redaction). */
export class PrometheusClient {
  readonly #http: HttpClient;
  readonly #options: PrometheusOptions;
  readonly #endpoint: string;
  readonly #headers: Record<string, string>;

  constructor(http: HttpClient, options: PrometheusOptions) {
    this.#http = http;
    this.#options = options;
    const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.#endpoint = new URL('api/v1/query', base).toString();
    this.#headers = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
      ...authorizationHeader(options),
    };
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  /** Evaluates an instant query now (POST form to /api/v1/query). */
  async query(promql: string, signal?: AbortSignal): Promise<QueryResult> {
    const where = describeUrl(this.#endpoint);
    const form = new URLSearchParams({ query: promql, timeout: `${this.#options.timeoutMs}ms` });
    let response: HttpResponse;
    try {
      response = await this.#http.request(this.#endpoint, {
        method: 'POST',
        headers: this.#headers,
        body: form.toString(),
        timeoutMs: this.#options.timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (isSwitchyardError(error) && error.code === ErrorCodes.HTTP_TIMEOUT) {
        throw new RetryableError(
          Codes.TIMEOUT,
          `Prometheus did not answer within ${this.#options.timeoutMs} ms (POST ${where}); it may be overloaded, or raise timeoutMs`,
          { cause: error, details: { url: where, timeoutMs: this.#options.timeoutMs } },
        );
      }
      throw new RetryableError(
        Codes.UNREACHABLE,
        `cannot reach Prometheus at ${where}: ${(error as Error).message}`,
        { cause: error, details: { url: where } },
      );
    }
    return this.interpret(response, promql, where);
  }

  private interpret(response: HttpResponse, promql: string, where: string): QueryResult {
    const status = response.status;
    const body = response.json<PrometheusBody>();
    const apiError =
      body && typeof body === 'object' && body.status === 'error'
        ? `${body.error ?? 'no message'}${body.errorType ? ` (${body.errorType})` : ''}`
        : undefined;
    const details = { url: where, status, ...(body?.errorType ? { errorType: body.errorType } : {}) };
    if (status === 400 || status === 422) {
      throw new PermanentError(
        Codes.BAD_QUERY,
        `Prometheus rejected the query ${JSON.stringify(promql)}: ${apiError ?? truncate(response.text())}; fix the PromQL in the query param`,
        { details },
      );
    }
    if (status === 401 || status === 403) {
      throw new PermanentError(
        Codes.AUTH,
        `Prometheus answered ${status} at ${where}: check the plugin's token or username + password options`,
        { details },
      );
    }
    if (status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(response.header('retry-after'));
      throw new RetryableError(
        Codes.UNAVAILABLE,
        `Prometheus is unavailable (${status} at ${where})${apiError ? `: ${apiError}` : ''}; the query will be retried`,
        { details, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
      );
    }
    if (status !== 200) {
      throw new PermanentError(
        Codes.HTTP,
        `Prometheus answered ${status} at ${where}${apiError ? `: ${apiError}` : ''}; options.url must be the server's base URL (e.g. http://prometheus:9090, plus its --web.route-prefix if set)`,
        { details },
      );
    }
    if (!body || typeof body !== 'object' || body.status !== 'success' || !body.data) {
      throw new PermanentError(
        Codes.BAD_RESPONSE,
        `the answer from ${where} is not Prometheus API JSON (${truncate(response.text())}); is options.url a Prometheus server?`,
        { details },
      );
    }
    const { resultType, result } = body.data;
    const warnings = Array.isArray(body.warnings) ? body.warnings.map(String) : [];
    try {
      if (resultType === 'scalar') {
        const [time, value] = result as [number, string];
        return {
          resultType,
          samples: [{ time: toMs(time), value: parseSampleValue(value), raw: value, labels: {} }],
          warnings,
        };
      }
      if (resultType === 'vector') {
        const samples = (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map(
          (series) => ({
            time: toMs(series.value[0]),
            value: parseSampleValue(series.value[1]),
            raw: series.value[1],
            labels: { ...series.metric },
          }),
        );
        return { resultType, samples, warnings };
      }
    } catch (error) {
      throw new PermanentError(
        Codes.BAD_RESPONSE,
        `cannot read the ${resultType} answer from ${where}: ${(error as Error).message}`,
        { cause: error, details },
      );
    }
    throw new PermanentError(
      Codes.UNSUPPORTED_RESULT,
      `the query ${JSON.stringify(promql)} returned a ${resultType === 'matrix' ? 'range vector (matrix)' : String(resultType)}; ` +
        'a gate needs an instant vector or a scalar: wrap a range selector in a function such as rate(), avg_over_time() or max_over_time()',
      { details: { ...details, resultType } },
    );
  }
}

interface PrometheusBody {
  status?: string;
  data?: { resultType?: string; result?: unknown };
  errorType?: string;
  error?: string;
  warnings?: unknown[];
}

function authorizationHeader(options: PrometheusOptions): Record<string, string> {
  if (options.token) return { authorization: `Bearer ${options.token}` };
  if (options.username !== undefined && options.password !== undefined) {
    const basic = Buffer.from(`${options.username}:${options.password}`).toString('base64');
    return { authorization: `Basic ${basic}` };
  }
  return {};
}

function toMs(seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new TypeError(`sample time must be a number of seconds, got ${JSON.stringify(seconds)}`);
  }
  return Math.round(seconds * 1000);
}

function truncate(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat || '(empty body)';
}
