import { type HttpClient, type HttpResponse, isSwitchyardError, parseRetryAfter } from '@switchyard/core';
import { fromSlackError, retryable, SlackErrorCodes } from './errors.js';

export interface WebApiOptions {
  http: HttpClient;
  apiUrl: string;
  token: string;
  timeoutMs: number;
  now: () => number;
  /** Told about every 429 so flow control backs off for everyone. */
  onRateLimited?: (channel: string | undefined, retryAfterMs: number) => Promise<void> | void;
}

export interface PostMessageResult {
  ok: true;
  channel: string;
  ts: string;
  message?: { thread_ts?: string };
}

/**
 * The few Web API methods the plugin needs, called directly over ctx.http (not @slack/web-api) so
 * the bus, not a client library, owns retries: a 429 becomes a RetryableError carrying Retry-After.
 */
export class SlackWebApi {
  constructor(private readonly options: WebApiOptions) {}

  postMessage(body: Record<string, unknown>, signal?: AbortSignal): Promise<PostMessageResult> {
    return this.call<PostMessageResult>('chat.postMessage', body, signal);
  }

  update(body: Record<string, unknown>, signal?: AbortSignal) {
    return this.call<{ ok: true; channel: string; ts: string }>('chat.update', body, signal);
  }

  async call<T>(method: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const o = this.options;
    const channel = typeof body.channel === 'string' ? body.channel : undefined;
    let response: HttpResponse;
    try {
      response = await o.http.request(`${o.apiUrl.replace(/\/+$/, '')}/${method}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${o.token}`,
          'content-type': 'application/json; charset=utf-8',
        },
        body: JSON.stringify(body),
        timeoutMs: o.timeoutMs,
        retry: false,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (isSwitchyardError(error)) throw error;
      throw retryable(SlackErrorCodes.UNAVAILABLE, `${method} failed: ${(error as Error)?.message ?? error}`);
    }
    const json = response.json<{ ok?: boolean; error?: string }>();
    if (response.status === 429) {
      const retryAfterMs = parseRetryAfter(response.header('retry-after'), o.now()) ?? 1_000;
      await o.onRateLimited?.(channel, retryAfterMs);
      throw fromSlackError('ratelimited', method, { channel, retryAfterMs });
    }
    if (response.status >= 500) {
      throw retryable(
        SlackErrorCodes.UNAVAILABLE,
        `Slack answered ${method} with HTTP ${response.status}; will retry`,
        {
          details: { status: response.status, call: method },
        },
      );
    }
    if (json && typeof json === 'object' && typeof json.ok === 'boolean') {
      if (json.ok) return json as T;
      throw fromSlackError(String(json.error ?? 'unknown_error'), method, { channel });
    }
    throw retryable(
      SlackErrorCodes.BAD_RESPONSE,
      `Slack answered ${method} with HTTP ${response.status} and a body that is not Slack's JSON: check plugins.slack.options.apiUrl (a proxy in between?)`,
      { details: { status: response.status, call: method } },
    );
  }
}
