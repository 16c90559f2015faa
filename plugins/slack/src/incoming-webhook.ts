import { type HttpClient, type HttpResponse, parseRetryAfter } from '@switchyard/core';
import { fromSlackError, retryable, SlackErrorCodes } from './errors.js';

export interface IncomingWebhookOptions {
  http: HttpClient;
  url: string;
  timeoutMs: number;
  now: () => number;
  onRateLimited?: (retryAfterMs: number) => Promise<void> | void;
}

const WHERE = 'incoming webhook';

/**
 * Posts to an incoming webhook. Success is the body `ok`; failures are plain strings
 * (`invalid_payload`, `channel_not_found`, `channel_is_archived`…). The URL is the credential, so no
 * error or log line carries it (not even its path).
 */
export class IncomingWebhook {
  constructor(private readonly options: IncomingWebhookOptions) {}

  async post(payload: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    const o = this.options;
    let response: HttpResponse;
    try {
      response = await o.http.request(o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(payload),
        timeoutMs: o.timeoutMs,
        retry: false,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      // ctx.http's message names the URL's path, which is the webhook's secret: keep only the kind.
      const code = (error as { code?: string; details?: { cause?: string } })?.details?.cause;
      const timedOut = (error as { code?: string })?.code === 'SY_HTTP_TIMEOUT';
      throw retryable(
        SlackErrorCodes.UNAVAILABLE,
        timedOut
          ? `${WHERE} timed out after ${o.timeoutMs} ms; will retry`
          : `${WHERE} request failed (${code ?? 'network error'}); will retry`,
      );
    }
    const text = response.text().trim();
    if (response.status === 200 && text === 'ok') return;
    if (response.status === 429) {
      const retryAfterMs = parseRetryAfter(response.header('retry-after'), o.now()) ?? 1_000;
      await o.onRateLimited?.(retryAfterMs);
      throw fromSlackError('rate_limited', WHERE, { retryAfterMs });
    }
    if (response.status >= 500) {
      throw retryable(
        SlackErrorCodes.UNAVAILABLE,
        `Slack answered the ${WHERE} with HTTP ${response.status}; will retry`,
        {
          details: { status: response.status },
        },
      );
    }
    if (/^[a-z_]{3,60}$/.test(text)) throw fromSlackError(text, WHERE);
    throw retryable(
      SlackErrorCodes.BAD_RESPONSE,
      `Slack answered the ${WHERE} with HTTP ${response.status} and an unexpected body: check plugins.slack.options.webhookUrl`,
      { details: { status: response.status } },
    );
  }
}
