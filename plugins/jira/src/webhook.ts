import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  EventValidationError,
  type IssueTransitionedData,
  type Logger,
  type PluginBus,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookRoute,
  webhookError,
} from '@switchyard/core';
import { JiraErrorCodes } from './errors.js';
import type { JiraOptions } from './options.js';

// POST /webhooks/jira: Jira's `jira:issue_updated` with a status changelog item becomes an
// IssueTransitioned event. Jira retries on 408/409/425/429/5xx with the same
// X-Atlassian-Webhook-Identifier, so that identifier is the delivery key and a duplicate gets 2xx.

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

const reject = (status: number, code: string, message: string): WebhookResponse =>
  webhookError(status, code, message);

/** Constant-time check of `sha256=<hex>` against the HMAC-SHA256 of the raw body. */
export function validSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(match[1]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

type Json = Record<string, any>;
const TO_STRING: string = 'toString';

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function webhookRoute(options: JiraOptions, bus: PluginBus, logger: Logger): WebhookRoute {
  return {
    method: 'POST',
    path: '',
    bodyLimit: WEBHOOK_BODY_LIMIT,
    handler: (request) => handle(request, options, bus, logger),
  };
}

async function handle(
  request: WebhookRequest,
  options: JiraOptions,
  bus: PluginBus,
  logger: Logger,
): Promise<WebhookResponse> {
  // The runner enforces bodyLimit too; this covers hosts that do not.
  if (request.rawBody.length > WEBHOOK_BODY_LIMIT) {
    return reject(
      413,
      JiraErrorCodes.WEBHOOK_TOO_LARGE,
      `body is ${request.rawBody.length} bytes; the limit is ${WEBHOOK_BODY_LIMIT}`,
    );
  }
  if (options.webhookSecret !== undefined) {
    const header = request.headers['x-hub-signature'];
    if (!validSignature(request.rawBody, header, options.webhookSecret)) {
      logger.warn(
        { remoteAddress: request.remoteAddress, signature: header ? 'wrong' : 'missing' },
        'jira webhook rejected: bad signature',
      );
      return reject(
        401,
        JiraErrorCodes.WEBHOOK_SIGNATURE,
        header
          ? 'X-Hub-Signature does not match the body; the secret on the Jira webhook must equal plugins.jira.options.webhookSecret'
          : 'X-Hub-Signature is missing; set the same secret on the Jira webhook as plugins.jira.options.webhookSecret',
      );
    }
  }
  let payload: unknown;
  try {
    payload = JSON.parse(request.rawBody.toString('utf8'));
  } catch (error) {
    return reject(400, JiraErrorCodes.WEBHOOK_INVALID_JSON, `body is not JSON: ${(error as Error).message}`);
  }
  const problem = notJira(payload);
  if (problem) return reject(400, JiraErrorCodes.WEBHOOK_NOT_JIRA, `not a Jira webhook: ${problem}`);
  const p = payload as Json;
  const ack = (reason: string): WebhookResponse => ({
    status: 200,
    body: { accepted: false, ignored: reason },
  });

  if (p.webhookEvent !== 'jira:issue_updated') return ack(`${p.webhookEvent} is not a status change`);
  const issue = p.issue as Json;
  const fields = issue.fields as Json;
  const items: unknown[] = Array.isArray(p.changelog?.items) ? p.changelog.items : [];
  const change = items.find(
    (i): i is Json => isObject(i) && (i.field === 'status' || i.fieldId === 'status'),
  );
  if (!change) return ack('no status change in the changelog');
  // `toString` collides with Object.prototype's in the type system; read it by a computed key.
  const toStatus: unknown = change[TO_STRING];
  if (typeof toStatus !== 'string' || toStatus === '') {
    return reject(
      400,
      JiraErrorCodes.WEBHOOK_NOT_JIRA,
      'the status changelog item has no toString (target status)',
    );
  }

  const key = String(issue.key);
  const projectKey = typeof fields.project?.key === 'string' ? fields.project.key : key.split('-')[0]!;
  const issueType = typeof fields.issuetype?.name === 'string' ? fields.issuetype.name : '';
  if (options.projects && !options.projects.some((k) => k.toUpperCase() === projectKey.toUpperCase())) {
    return ack(`project ${projectKey} is not in plugins.jira.options.projects`);
  }
  if (options.issueTypes && !options.issueTypes.some((t) => t.toLowerCase() === issueType.toLowerCase())) {
    return ack(`issue type "${issueType}" is not in plugins.jira.options.issueTypes`);
  }

  const user = isObject(p.user) ? p.user : {};
  const transitionedBy: IssueTransitionedData['transitionedBy'] = {};
  // Cloud sends accountId; Server/Data Center sends name/key instead.
  const accountId = user.accountId ?? user.key ?? user.name;
  if (typeof accountId === 'string') transitionedBy.accountId = accountId;
  if (typeof user.displayName === 'string') transitionedBy.displayName = user.displayName;
  if (typeof user.emailAddress === 'string') transitionedBy.email = user.emailAddress;
  const data: IssueTransitionedData = {
    issueKey: key,
    issueId: String(issue.id),
    projectKey,
    summary: typeof fields.summary === 'string' ? fields.summary : '',
    issueType,
    fromStatus: typeof change.fromString === 'string' ? change.fromString : '',
    toStatus,
    transitionedBy,
    labels: Array.isArray(fields.labels) ? fields.labels.filter((l: unknown) => typeof l === 'string') : [],
    url: `${options.baseUrl}/browse/${key}`,
    fields,
  };
  // Jira always sends the identifier; without one, the changelog id is unique per change and the
  // same across Jira's retries, so it dedupes just as well.
  const identifier = request.headers['x-atlassian-webhook-identifier'];
  const deliveryKey = identifier
    ? `jira:${identifier}`
    : p.changelog?.id !== undefined
      ? `jira:changelog:${String(p.changelog.id)}`
      : undefined;
  try {
    const { event, duplicate } = await bus.publish('IssueTransitioned', data, {
      subject: key,
      cause: null,
      ...(deliveryKey ? { deliveryKey } : {}),
    });
    if (duplicate) return { status: 200, body: { accepted: true, duplicate: true, eventId: event.id } };
    logger.info(
      { eventId: event.id, issue: key, from: data.fromStatus, to: data.toStatus },
      'jira issue transitioned',
    );
    return { status: 202, body: { accepted: true, eventId: event.id } };
  } catch (error) {
    if (error instanceof EventValidationError) {
      return reject(
        400,
        JiraErrorCodes.WEBHOOK_NOT_JIRA,
        `payload does not make a valid IssueTransitioned: ${error.message}`,
      );
    }
    logger.error({ err: error, issue: key }, 'jira webhook: storing the event failed');
    // 503 makes Jira retry later with the same identifier.
    return webhookError(
      503,
      JiraErrorCodes.WEBHOOK_STORE_FAILED,
      'the event could not be stored; Jira will retry',
      { headers: { 'retry-after': '30' } },
    );
  }
}

/** Why a parsed body is not a Jira issue webhook, or undefined when it looks like one. */
function notJira(p: unknown): string | undefined {
  if (!isObject(p)) return 'the body is not a JSON object';
  if (typeof p.webhookEvent !== 'string' || p.webhookEvent === '') return 'webhookEvent is missing';
  if (!p.webhookEvent.startsWith('jira:issue_')) return undefined; // other events: acknowledged below
  const issue = p.issue;
  if (!isObject(issue)) return 'issue is missing';
  if (typeof issue.key !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*-\d+$/.test(issue.key)) {
    return 'issue.key is missing or not an issue key';
  }
  if (issue.id === undefined || issue.id === null || issue.id === '') return 'issue.id is missing';
  if (!isObject(issue.fields)) return 'issue.fields is missing';
  if (p.changelog !== undefined && !isObject(p.changelog)) return 'changelog is not an object';
  return undefined;
}
