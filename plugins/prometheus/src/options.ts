import { ComparisonOperatorSchema } from '@switchyard/core';
import { z } from 'zod';

/** Credentials: a bearer token, or username + password (basic auth), or none. */
const credentialFields = {
  token: z.string().min(1, 'token must not be empty').optional(),
  username: z.string().min(1, 'username must not be empty').optional(),
  password: z.string().min(1, 'password must not be empty').optional(),
};

type Credentials = {
  token?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
};

function checkCredentials(value: Credentials, ctx: z.RefinementCtx): void {
  if (value.token !== undefined && (value.username !== undefined || value.password !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['token'],
      message: 'use either token (bearer) or username + password (basic auth), not both',
    });
  }
  if (value.username !== undefined && value.password === undefined) {
    ctx.addIssue({ code: 'custom', path: ['password'], message: 'username needs a password (basic auth)' });
  }
  if (value.password !== undefined && value.username === undefined) {
    ctx.addIssue({ code: 'custom', path: ['username'], message: 'password needs a username (basic auth)' });
  }
}

export const PrometheusOptionsSchema = z
  .object({
    url: z
      .string({ error: 'url is required: the Prometheus base URL, e.g. http://127.0.0.1:9090' })
      .refine((value) => /^https?:$/.test(safeProtocol(value)), {
        message: 'url must be an http(s) URL of the Prometheus server, e.g. http://127.0.0.1:9090',
      })
      .refine((value) => !safeUrl(value)?.search && !safeUrl(value)?.username && !safeUrl(value)?.password, {
        message: 'url must not carry credentials or a query string; put them in token or username + password',
      }),
    ...credentialFields,
    timeoutMs: z
      .number()
      .int()
      .positive('timeoutMs must be positive')
      .max(300_000, 'timeoutMs is at most 300000 (5 minutes)')
      .default(10_000),
    /** Inbound auth Alertmanager must present on the webhook (its http_config). */
    alertmanager: z
      .strictObject(credentialFields, {
        error: 'alertmanager takes token, or username + password (the credentials Alertmanager sends)',
      })
      .superRefine(checkCredentials)
      .optional(),
  })
  .strict()
  .superRefine(checkCredentials);

export type PrometheusOptions = z.output<typeof PrometheusOptionsSchema>;

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function safeProtocol(value: string): string {
  return safeUrl(value)?.protocol ?? '';
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/** "30s", "2m", "1m30s", "500ms", "1h" or a number of milliseconds → milliseconds; undefined if invalid. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(amount) * UNIT_MS[unit!]!;
  }
  return Math.round(total);
}

const duration = (name: string) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${name} must be a duration like "30s", "2m", "1m30s", "500ms" or a number of milliseconds; got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** A number, or a string holding one (templates render values into strings). */
const numeric = (name: string) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isFinite(n)) {
      ctx.addIssue({
        code: 'custom',
        message: `${name} must be a finite number; got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return n;
  });

const count = (name: string, min: number, max: number) =>
  numeric(name).refine((n) => Number.isInteger(n) && n >= min && n <= max, {
    message: `${name} must be a whole number from ${min} to ${max}`,
  });

export const MAX_COUNT = 1_000;

export const ValidateParamsSchema = z
  .object({
    /** Name used in the reason and the event ("error ratio"); defaults to the query. */
    check: z.string().trim().min(1, 'check must not be empty').max(200).optional(),
    query: z.string({ error: 'query is required (PromQL)' }).trim().min(1, 'query must not be empty'),
    operator: ComparisonOperatorSchema,
    expectedValue: numeric('expectedValue'),
    interval: duration('interval').optional(),
    count: count('count', 1, MAX_COUNT).default(1),
    initialDelay: duration('initialDelay').default(0),
    failureLimit: count('failureLimit', 0, MAX_COUNT - 1).default(0),
    onNoData: z.enum(['inconclusive', 'fail', 'pass']).default('inconclusive'),
    series: z.enum(['one', 'all', 'any']).default('one'),
    /** Context for the event when the causing event does not carry it (or to override it). */
    service: z.string().min(1).optional(),
    environment: z.string().min(1).optional(),
    issueKeys: z
      .union([
        z
          .string()
          .min(1)
          .transform((key) => [key]),
        z.array(z.string().min(1)),
      ])
      .optional(),
  })
  .strict()
  .superRefine((params, ctx) => {
    if (params.count > 1 && params.interval === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['interval'],
        message: `interval is required when count is ${params.count}: the time between measurements, e.g. "30s"`,
      });
    }
    if (params.failureLimit >= params.count) {
      ctx.addIssue({
        code: 'custom',
        path: ['failureLimit'],
        message: `failureLimit ${params.failureLimit} must be less than count ${params.count}, or the check could never fail`,
      });
    }
  });

export type ValidateParams = z.output<typeof ValidateParamsSchema>;
