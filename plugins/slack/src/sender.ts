import type { PluginContext, SwitchyardEvent } from '@switchyard/core';
import type { Block } from './blocks.js';
import { permanent, SlackErrorCodes } from './errors.js';
import { IncomingWebhook } from './incoming-webhook.js';
import { ChannelLimiter } from './limiter.js';
import type { SlackOptions } from './options.js';
import { Threads } from './threads.js';
import { SlackWebApi } from './web-api.js';

export interface OutgoingMessage {
  text: string;
  blocks?: Block[] | Record<string, unknown>[] | undefined;
  /** Channel ID (bot token only); the configured one when unset. */
  channel?: string | undefined;
  /** Post into the thread of this correlation id (bot token only). */
  threadOf?: string | undefined;
  /** reply_broadcast for a thread reply. */
  broadcast?: boolean | undefined;
}

export interface SentMessage {
  via: 'web-api' | 'webhook';
  /** Channel ID as Slack reported it (Web API only). */
  channel?: string;
  ts?: string;
  /** The thread's root when the message is a reply. */
  threadTs?: string;
}

/** Sends messages through the one route the options configure, with flow control and threads. */
export class Sender {
  readonly api: SlackWebApi | undefined;
  readonly webhook: IncomingWebhook | undefined;
  readonly limiter: ChannelLimiter;
  readonly threads: Threads;

  constructor(
    ctx: PluginContext<SlackOptions>,
    private readonly options: SlackOptions,
  ) {
    const now = () => ctx.clock.now();
    this.limiter = new ChannelLimiter({
      store: ctx.store,
      clock: ctx.clock,
      intervalMs: options.minIntervalMs,
      logger: ctx.logger,
    });
    this.threads = new Threads({ store: ctx.store, clock: ctx.clock });
    this.api = options.token
      ? new SlackWebApi({
          http: ctx.http,
          apiUrl: options.apiUrl,
          token: options.token,
          timeoutMs: options.timeoutMs,
          now,
          onRateLimited: (channel, ms) => this.limiter.pushBack(channel ?? options.channel!, ms),
        })
      : undefined;
    this.webhook = options.webhookUrl
      ? new IncomingWebhook({
          http: ctx.http,
          url: options.webhookUrl,
          timeoutMs: options.timeoutMs,
          now,
          onRateLimited: (ms) => this.limiter.pushBack(WEBHOOK_CHANNEL, ms),
        })
      : undefined;
  }

  async send(message: OutgoingMessage, signal?: AbortSignal): Promise<SentMessage> {
    if (this.webhook) {
      if (message.channel) {
        throw permanent(
          SlackErrorCodes.PARAMS,
          'channel needs a bot token: an incoming webhook posts only to the channel it was created for; remove "channel" or configure token + channel',
        );
      }
      if (message.threadOf) {
        throw permanent(
          SlackErrorCodes.PARAMS,
          'thread: "correlation" needs a bot token (an incoming webhook does not return the message ts to thread on); remove "thread" or configure token + channel',
        );
      }
      await this.limiter.acquire(WEBHOOK_CHANNEL, signal);
      await this.webhook.post(compactBody({ text: message.text, blocks: message.blocks }), signal);
      return { via: 'webhook' };
    }
    const api = this.api!;
    const channel = message.channel ?? this.options.channel!;
    const post = async (threadTs: string | undefined) => {
      await this.limiter.acquire(channel, signal);
      const body = compactBody({
        channel,
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
        thread_ts: threadTs,
        reply_broadcast: threadTs && message.broadcast ? true : undefined,
      });
      const res = await api.postMessage(body, signal);
      return { ts: res.ts, channel: res.channel };
    };
    if (message.threadOf) {
      const r = await this.threads.post(channel, message.threadOf, post, signal);
      return {
        via: 'web-api',
        channel: r.channel,
        ts: r.ts,
        ...(r.threadTs ? { threadTs: r.threadTs } : {}),
      };
    }
    const r = await post(undefined);
    return { via: 'web-api', channel: r.channel, ts: r.ts };
  }
}

/** The flow-control key of the incoming webhook (never the URL: it is the secret). */
const WEBHOOK_CHANNEL = 'incoming-webhook';

function compactBody(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (v !== undefined) out[k] = v;
  return out;
}

/** The chain id of a cause event (its own id when it starts the chain). */
export function chainOf(event: SwitchyardEvent): string {
  return event.correlationid ?? event.id;
}
