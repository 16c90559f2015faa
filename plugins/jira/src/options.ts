import { z } from 'zod';

// Options under `plugins.jira.options`. Messages name the option and the fix, because the host
// reports them as `plugins.jira.options.<path>: <message>`.

const issueKeyPattern = /^[A-Za-z][A-Za-z0-9_]*$/;

export const JiraOptionsSchema = z
  .object({
    baseUrl: z
      .url({
        protocol: /^https?$/,
        error: 'must be the http(s) URL of the Jira site, e.g. https://your-site.atlassian.net',
      })
      // Trailing slashes would double up in `${baseUrl}/rest/api/3/...`.
      .transform((u) => u.replace(/\/+$/, '')),
    apiVersion: z
      .union([z.literal(2), z.literal(3), z.literal('2'), z.literal('3')], {
        error: 'must be 2 or 3 (3 for Jira Cloud; 2 for Server/Data Center)',
      })
      .default(3)
      .transform((v) => Number(v) as 2 | 3),
    email: z
      .string()
      .trim()
      .min(3, { error: 'must be the Atlassian account email that owns the API token (Jira Cloud)' })
      .optional(),
    token: z
      .string({
        error: 'is required: a Jira Cloud API token (with email) or a Server/DC personal access token',
      })
      .min(1, {
        error: 'is empty: set it to a Jira Cloud API token (with email) or a Server/DC personal access token',
      }),
    webhookSecret: z
      .string()
      .min(1, { error: 'is empty: set the secret configured on the Jira webhook, or remove the option' })
      .optional(),
    projects: z
      .array(z.string().regex(issueKeyPattern, { error: 'must be a project key such as PROJ' }))
      .optional(),
    issueTypes: z.array(z.string().min(1)).optional(),
    timeoutMs: z.number().int().positive().max(300_000).optional(),
  })
  .strict();

export type JiraOptionsInput = z.input<typeof JiraOptionsSchema>;
export type JiraOptions = z.output<typeof JiraOptionsSchema>;

/** `Authorization` header value: Basic email:token (Cloud) or Bearer PAT (Server/Data Center). */
export function authorizationHeader(options: Pick<JiraOptions, 'email' | 'token'>): string {
  return options.email
    ? `Basic ${Buffer.from(`${options.email}:${options.token}`).toString('base64')}`
    : `Bearer ${options.token}`;
}

/** Which option a person should check when Jira says 401/403. */
export function credentialHint(options: Pick<JiraOptions, 'email'>): string {
  return options.email
    ? `check plugins.jira.options.email and plugins.jira.options.token (a Jira Cloud API token of that account, from id.atlassian.com)`
    : `check plugins.jira.options.token (a Server/Data Center personal access token; for Jira Cloud also set email)`;
}
