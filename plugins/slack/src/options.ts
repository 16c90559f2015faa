import { z } from 'zod';

/** `plugins.slack.options` in switchyard.yaml. */
export const SlackOptionsSchema = z
  .strictObject({
    /** Incoming webhook URL (https://hooks.slack.com/services/T…/B…/…). A secret: its path is the credential. */
    webhookUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** Bot token (xoxb-…) for the Web API: threads, other channels, approvals with chat.update. */
    token: z.string().min(1).optional(),
    /** Default channel ID (C…) for the Web API. */
    channel: z.string().min(1).optional(),
    /** The app's signing secret; turns on POST /webhooks/slack/interactions and /commands. */
    signingSecret: z.string().min(1).optional(),
    /** Web API base URL; override only for a proxy or the fake Slack in tests. */
    apiUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('https://slack.com/api'),
    /** Replies in a thread about a failure are also shown in the channel (reply_broadcast). */
    broadcastFailures: z.boolean().default(true),
    /** Budget of one request to Slack. */
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
    /** Least time between two messages to one channel, shared by every runner (Slack allows ~1/s). */
    minIntervalMs: z.number().int().min(0).max(60_000).default(1_000),
  })
  .superRefine((o, ctx) => {
    if (o.webhookUrl && o.token) {
      ctx.addIssue({
        code: 'custom',
        path: ['webhookUrl'],
        message: 'set either webhookUrl, or token + channel, not both',
      });
    }
    if (!o.webhookUrl && !o.token) {
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: 'set webhookUrl (an incoming webhook), or token (a bot token, xoxb-…) and channel',
      });
    }
    if (o.token && !o.channel) {
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message: 'with token, set channel to the ID of the default channel (C…)',
      });
    }
    if (o.webhookUrl && !o.token && o.channel) {
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message: 'an incoming webhook posts to the channel it was created for; remove channel or use token',
      });
    }
  });

export type SlackOptions = z.output<typeof SlackOptionsSchema>;

const blockSchema = z.looseObject({ type: z.string().min(1, 'every block needs a "type"') });

export const PostParamsSchema = z.strictObject({
  text: z.string().min(1).max(40_000).optional(),
  blocks: z.array(blockSchema).min(1).max(50).optional(),
  /** Channel ID (bot token only); the configured channel when unset. */
  channel: z.string().min(1).optional(),
  /** "correlation": every message of one event chain goes into one thread (bot token only). */
  thread: z.literal('correlation').optional(),
  /** Show a thread reply in the channel too; defaults to broadcastFailures for failure events. */
  broadcast: z.boolean().optional(),
});

export type PostParams = z.output<typeof PostParamsSchema>;

export const AskParamsSchema = z.strictObject({
  text: z.string().min(1).max(2_900),
  approveLabel: z.string().min(1).max(75).default('Approve'),
  rejectLabel: z.string().min(1).max(75).default('Reject'),
  /** Channel ID (bot token only); the configured channel when unset. */
  channel: z.string().min(1).optional(),
  /** Ask in the chain's thread (bot token only). */
  thread: z.literal('correlation').optional(),
});

export type AskParams = z.output<typeof AskParamsSchema>;
