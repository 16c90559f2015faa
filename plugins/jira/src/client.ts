import {
  type Clock,
  ErrorCodes,
  type HttpClient,
  type HttpResponse,
  isSwitchyardError,
  PermanentError,
  parseRetryAfter,
  RetryableError,
  type SwitchyardError,
} from '@switchyard/core';
import { JiraErrorCodes } from './errors.js';
import { authorizationHeader, credentialHint, type JiraOptions } from './options.js';

// Jira's REST API through ctx.http, with every non-2xx answer turned into an error that says
// whether a retry can help. Messages name the operation and the issue, never the credentials.

/** When Jira throttles without a Retry-After, wait this long before the bus retries. */
export const DEFAULT_RETRY_AFTER_MS = 10_000;

export interface JiraCall {
  method: 'GET' | 'POST' | 'PUT';
  /** Below /rest/api/{2|3}, e.g. `/issue/PROJ-1/transitions`. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** What the call does, for messages: "read the transitions of PROJ-1". */
  what: string;
  issue?: string;
  signal?: AbortSignal;
}

export interface Status {
  id: string;
  name: string;
}

export interface Transition {
  id: string;
  name: string;
  to: Status;
}

export class JiraClient {
  readonly #options: JiraOptions;
  readonly #http: HttpClient;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #auth: string;

  constructor(options: JiraOptions, http: HttpClient, clock: Clock, random: () => number = Math.random) {
    this.#options = options;
    this.#http = http;
    this.#clock = clock;
    this.#random = random;
    this.#auth = authorizationHeader(options);
  }

  get apiVersion(): 2 | 3 {
    return this.#options.apiVersion;
  }

  url(path: string, query?: Record<string, string>): string {
    const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
    return `${this.#options.baseUrl}/rest/api/${this.#options.apiVersion}${path}${qs}`;
  }

  async call<T = unknown>(call: JiraCall): Promise<T | undefined> {
    let response: HttpResponse;
    try {
      response = await this.#http.request(this.url(call.path, call.query), {
        method: call.method,
        headers: {
          authorization: this.#auth,
          accept: 'application/json',
          // Jira rejects state-changing requests from browsers without this; harmless elsewhere.
          'x-atlassian-token': 'no-check',
        },
        ...(call.body !== undefined ? { body: call.body } : {}),
        ...(this.#options.timeoutMs !== undefined ? { timeoutMs: this.#options.timeoutMs } : {}),
        ...(call.signal ? { signal: call.signal } : {}),
      });
    } catch (error) {
      throw this.#transportError(error, call);
    }
    if (response.status >= 200 && response.status < 300) {
      if (response.status === 204 || response.body.length === 0) return undefined;
      const json = response.json<T>();
      if (json === undefined) {
        throw new PermanentError(
          JiraErrorCodes.BAD_RESPONSE,
          `Jira answered ${response.status} with a body that is not JSON when asked to ${call.what}; ` +
            `check that plugins.jira.options.baseUrl (${this.#options.baseUrl}) is the Jira site itself, not a login or proxy page`,
          { details: this.#details(call, response.status) },
        );
      }
      return json;
    }
    throw this.statusError(response, call);
  }

  /** Maps a non-2xx answer to a permanent or retryable error. */
  statusError(response: HttpResponse, call: JiraCall): SwitchyardError {
    const s = response.status;
    const jira = jiraMessages(response);
    const said = jira ? `: ${jira}` : '';
    const details = { ...this.#details(call, s), ...(jira ? { jira } : {}) };
    const head = `Jira answered ${s} when asked to ${call.what}`;
    if (s === 401) {
      return new PermanentError(
        JiraErrorCodes.UNAUTHORIZED,
        `${head} (not authenticated): ${credentialHint(this.#options)}`,
        { details },
      );
    }
    if (s === 403) {
      return new PermanentError(
        JiraErrorCodes.FORBIDDEN,
        `${head} (forbidden)${said}; the account lacks a permission for this (browse, transition, comment or edit issues): ${credentialHint(this.#options)}, and its project permissions`,
        { details },
      );
    }
    if (s === 404) {
      return new PermanentError(
        JiraErrorCodes.ISSUE_NOT_FOUND,
        `${head}: ${call.issue ? `issue ${call.issue}` : 'the resource'} does not exist or the account cannot see it; check the issue key and plugins.jira.options.baseUrl`,
        { details },
      );
    }
    if (s === 429 || s === 503) {
      const asked = parseRetryAfter(response.header('retry-after'), this.#clock.now());
      const retryAfterMs = this.jitter(asked ?? DEFAULT_RETRY_AFTER_MS);
      return new RetryableError(
        s === 429 ? JiraErrorCodes.RATE_LIMITED : JiraErrorCodes.UNAVAILABLE,
        `${head} (${s === 429 ? 'rate limited' : 'unavailable'}); retry in ${Math.ceil(retryAfterMs / 1000)} s${said}`,
        { retryAfterMs, details },
      );
    }
    if (s >= 500 || s === 408) {
      return new RetryableError(JiraErrorCodes.SERVER_ERROR, `${head} (server error)${said}`, { details });
    }
    if (s === 409) {
      return new RetryableError(
        JiraErrorCodes.CONFLICT,
        `${head} (conflicting update of the issue)${said}; a retry normally succeeds`,
        { details },
      );
    }
    if (s === 400 || s === 422) {
      return new PermanentError(
        JiraErrorCodes.REJECTED,
        `${head} and rejected the request${said || ' (no reason given)'}`,
        { details },
      );
    }
    if (s >= 300 && s < 400) {
      return new PermanentError(
        JiraErrorCodes.BAD_RESPONSE,
        `${head} (redirect to ${response.header('location') ?? 'elsewhere'}); set plugins.jira.options.baseUrl to the final https URL of the Jira site`,
        { details },
      );
    }
    return new PermanentError(JiraErrorCodes.REQUEST_FAILED, `${head}${said}`, { details });
  }

  /**
   * Retry-After plus up to 20% (at most 30 s) of random extra, never less than Jira asked for:
   * many deliveries throttled at once should not all come back in the same second.
   */
  jitter(ms: number): number {
    return Math.round(ms + Math.min(ms * 0.2, 30_000) * this.#random());
  }

  #transportError(error: unknown, call: JiraCall): unknown {
    if (call.signal?.aborted) return error;
    if (isSwitchyardError(error)) {
      const timeout = error.code === ErrorCodes.HTTP_TIMEOUT;
      return new RetryableError(
        timeout ? JiraErrorCodes.TIMEOUT : JiraErrorCodes.NETWORK,
        `could not ${call.what}: ${error.message}`,
        { cause: error, details: this.#details(call) },
      );
    }
    return new RetryableError(
      JiraErrorCodes.NETWORK,
      `could not ${call.what}: ${(error as Error)?.message ?? String(error)}`,
      { cause: error, details: this.#details(call) },
    );
  }

  #details(call: JiraCall, status?: number): Record<string, unknown> {
    return {
      plugin: 'jira',
      method: call.method,
      path: `/rest/api/${this.#options.apiVersion}${call.path}`,
      ...(call.issue ? { issue: call.issue } : {}),
      ...(status !== undefined ? { status } : {}),
    };
  }

  async currentStatus(issue: string, signal?: AbortSignal): Promise<Status> {
    const body = await this.call<{ fields?: { status?: { id?: unknown; name?: unknown } } }>({
      method: 'GET',
      path: `/issue/${encodeURIComponent(issue)}`,
      query: { fields: 'status' },
      what: `read the status of ${issue}`,
      issue,
      ...(signal ? { signal } : {}),
    });
    const status = body?.fields?.status;
    if (typeof status?.name !== 'string') {
      throw new PermanentError(
        JiraErrorCodes.BAD_RESPONSE,
        `Jira's answer for ${issue} has no fields.status.name; check plugins.jira.options.baseUrl and apiVersion`,
        { details: { plugin: 'jira', issue } },
      );
    }
    return { id: String(status.id ?? ''), name: status.name };
  }

  async transitions(issue: string, signal?: AbortSignal): Promise<Transition[]> {
    const body = await this.call<{ transitions?: unknown }>({
      method: 'GET',
      path: `/issue/${encodeURIComponent(issue)}/transitions`,
      what: `read the transitions of ${issue}`,
      issue,
      ...(signal ? { signal } : {}),
    });
    if (!Array.isArray(body?.transitions)) {
      throw new PermanentError(
        JiraErrorCodes.BAD_RESPONSE,
        `Jira's transitions answer for ${issue} has no transitions list; check plugins.jira.options.baseUrl and apiVersion`,
        { details: { plugin: 'jira', issue } },
      );
    }
    return (body.transitions as Array<Record<string, any>>)
      .filter((t) => t && typeof t.name === 'string' && t.to && typeof t.to.name === 'string')
      .map((t) => ({
        id: String(t.id),
        name: t.name as string,
        to: { id: String(t.to.id ?? ''), name: t.to.name as string },
      }));
  }
}

/** Jira's `errorMessages` and `errors` joined into one line, or undefined when the body has neither. */
export function jiraMessages(response: HttpResponse): string | undefined {
  const body = response.json<{ errorMessages?: unknown; errors?: unknown; message?: unknown }>();
  if (!body || typeof body !== 'object') return undefined;
  const parts: string[] = [];
  if (Array.isArray(body.errorMessages)) {
    for (const m of body.errorMessages) if (typeof m === 'string' && m) parts.push(m);
  }
  if (body.errors && typeof body.errors === 'object') {
    for (const [field, m] of Object.entries(body.errors as Record<string, unknown>)) {
      parts.push(`${field}: ${typeof m === 'string' ? m : JSON.stringify(m)}`);
    }
  }
  if (parts.length === 0 && typeof body.message === 'string') parts.push(body.message);
  if (parts.length === 0) return undefined;
  const text = parts.join('; ');
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}
