import { createHash } from 'node:crypto';
import { z } from 'zod';

// Options under `plugins.dingtalk.options`. Messages name the fix and never echo the value: the
// webhook URL carries the robot's access_token. The host reports them as
// `plugins.dingtalk.options.<field>: <message>`.

/** DingTalk throttles a robot that sends more than 20 messages a minute. */
export const DINGTALK_MAX_PER_MINUTE = 20;

const webhookHelp =
  "must be the robot's webhook URL with its access_token, e.g. https://oapi.dingtalk.com/robot/send?access_token=… (群设置 → 机器人 → 自定义机器人 → Webhook)";

export const DingTalkOptionsSchema = z
  .object({
    webhook: z
      .string({ error: `is required: it ${webhookHelp}` })
      .trim()
      .superRefine((value, ctx) => {
        let url: URL;
        try {
          url = new URL(value);
        } catch {
          ctx.addIssue({ code: 'custom', message: webhookHelp });
          return;
        }
        if (url.protocol !== 'https:' && url.protocol !== 'http:') {
          ctx.addIssue({ code: 'custom', message: `${webhookHelp} (an http(s) URL)` });
        } else if (!url.searchParams.get('access_token')) {
          ctx.addIssue({ code: 'custom', message: `has no access_token query parameter: it ${webhookHelp}` });
        } else if (url.searchParams.has('sign') || url.searchParams.has('timestamp')) {
          ctx.addIssue({
            code: 'custom',
            message:
              "must not carry timestamp or sign: those are computed per message; put the robot's 加签 secret (SEC…) in options.secret",
          });
        }
      }),
    secret: z
      .string({ error: "must be the robot's 加签 secret (starts with SEC), or be left out" })
      .trim()
      .min(1, { error: "is empty: set the robot's 加签 secret (starts with SEC), or remove the option" })
      .optional(),
    keyword: z
      .union([z.string().trim().min(1), z.array(z.string().trim().min(1)).min(1).max(10)], {
        error: "must be one of the robot's custom keywords (自定义关键词), or a list of them",
      })
      .optional()
      .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
    ratePerMinute: z
      .number({ error: `must be a whole number of messages per minute, 1 to ${DINGTALK_MAX_PER_MINUTE}` })
      .int({ error: `must be a whole number of messages per minute, 1 to ${DINGTALK_MAX_PER_MINUTE}` })
      .min(1, { error: 'must be at least 1 message per minute' })
      .max(DINGTALK_MAX_PER_MINUTE, {
        error: `must be at most ${DINGTALK_MAX_PER_MINUTE}: DingTalk throttles a robot for 10 minutes above 20 messages a minute`,
      })
      .default(DINGTALK_MAX_PER_MINUTE),
    locale: z
      .enum(['zh-CN', 'en'], { error: 'must be "zh-CN" or "en" (the language of default messages)' })
      .default('zh-CN'),
    timeoutMs: z
      .number({ error: 'must be a number of milliseconds, e.g. 10000' })
      .int({ error: 'must be a whole number of milliseconds' })
      .positive({ error: 'must be a positive number of milliseconds' })
      .max(120_000, { error: 'must be at most 120000 ms' })
      .optional(),
  })
  .strict();

export type DingTalkOptionsInput = z.input<typeof DingTalkOptionsSchema>;
export type DingTalkOptions = z.output<typeof DingTalkOptionsSchema>;
export type Locale = DingTalkOptions['locale'];

/**
 * A stable, non-reversible id of the robot: the limiter's store key. Runners configured with the
 * same webhook share it; the access_token itself never reaches the store or the logs.
 */
export function robotId(webhook: string): string {
  const url = new URL(webhook);
  const canonical = `${url.origin}${url.pathname}?access_token=${url.searchParams.get('access_token') ?? ''}`;
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** The access_token in the webhook URL (registered as a secret so logs mask it). */
export function accessToken(webhook: string): string | undefined {
  try {
    return new URL(webhook).searchParams.get('access_token') ?? undefined;
  } catch {
    return undefined;
  }
}
