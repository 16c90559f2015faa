import { createHash, timingSafeEqual } from 'node:crypto';
import {
  isSwitchyardError,
  type Logger,
  type PluginBus,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookRoute,
} from '@switchyard/core';
import { z } from 'zod';
import type { AlertFiredData } from './events.js';
import type { PrometheusOptions } from './options.js';

/** Alertmanager's "zero" time: the alert has no end yet. */
const ZERO_TIME = /^0001-01-01T00:00:00(\.0+)?Z$/;
const isoTime = z.iso.datetime({ offset: true, error: 'must be an RFC 3339 timestamp' });

/** The webhook notification Alertmanager posts (webhook_config, payload version "4"). */
const AlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: isoTime,
  endsAt: z.string().default(''),
  generatorURL: z.string().default(''),
  fingerprint: z.string().min(1, 'fingerprint must not be empty'),
});

const NotificationSchema = z.object({
  version: z.literal('4'),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: z.record(z.string(), z.string()).default({}),
  commonLabels: z.record(z.string(), z.string()).default({}),
  commonAnnotations: z.record(z.string(), z.string()).default({}),
  externalURL: z.string().default(''),
  alerts: z.array(AlertSchema),
});

export type AlertmanagerAuth = PrometheusOptions['alertmanager'];

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time check of the Authorization header against the configured bearer or basic credentials. */
export function authorized(auth: AlertmanagerAuth, header: string | undefined): boolean {
  if (!auth || (auth.token === undefined && auth.username === undefined)) return true;
  const expected = auth.token
    ? `Bearer ${auth.token}`
    : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  if (header === undefined) return false;
  // Scheme names are case-insensitive (RFC 9110); credentials are not.
  const space = header.indexOf(' ');
  const normalised =
    space > 0 ? `${header.slice(0, space).toLowerCase()}${header.slice(space)}` : header.toLowerCase();
  const want = `${expected.slice(0, expected.indexOf(' ')).toLowerCase()}${expected.slice(expected.indexOf(' '))}`;
  return timingSafeEqual(digest(normalised.trim()), digest(want));
}

/** Maps one alert to AlertFired data; `endsAt` is dropped while it is Alertmanager's zero time. */
export function toAlertFired(
  alert: z.output<typeof AlertSchema>,
  notification: Pick<z.output<typeof NotificationSchema>, 'receiver' | 'externalURL'>,
): AlertFiredData {
  const data: AlertFiredData = {
    status: alert.status,
    alertname: alert.labels.alertname ?? '',
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
    fingerprint: alert.fingerprint,
    generatorURL: alert.generatorURL,
    receiver: notification.receiver,
    externalURL: notification.externalURL,
  };
  if (alert.endsAt !== '' && !ZERO_TIME.test(alert.endsAt)) data.endsAt = alert.endsAt;
  return data;
}

/** Alertmanager redelivers a notification it got no 2xx for; these keys make the retries no-ops. */
export function alertDeliveryKey(alert: Pick<AlertFiredData, 'fingerprint' | 'status' | 'startsAt'>): string {
  return `alertmanager:${alert.fingerprint}:${alert.status}:${alert.startsAt}`;
}

const reply = (status: number, body: unknown, headers?: Record<string, string>): WebhookResponse => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});

/**
 * `POST /webhooks/prometheus/alertmanager`: one AlertFired per alert. 4xx for payloads a retry
 * cannot fix (Alertmanager does not retry 4xx); 5xx only when appending failed (it retries 5xx).
 */
export function alertmanagerRoute(deps: {
  bus: PluginBus;
  logger: Logger;
  auth: AlertmanagerAuth;
}): WebhookRoute {
  const { bus, logger, auth } = deps;
  return {
    method: 'POST',
    path: '/alertmanager',
    async handler(request: WebhookRequest): Promise<WebhookResponse> {
      if (!authorized(auth, request.headers.authorization)) {
        const scheme = auth?.token ? 'Bearer' : 'Basic realm="switchyard"';
        return reply(
          401,
          {
            error:
              'missing or wrong credentials: set http_config.authorization or basic_auth on the Alertmanager webhook_config',
          },
          { 'www-authenticate': scheme },
        );
      }
      let raw: unknown;
      try {
        raw = JSON.parse(request.rawBody.toString('utf8'));
      } catch {
        return reply(400, {
          error: 'body is not JSON: this endpoint takes Alertmanager webhook notifications (version 4)',
        });
      }
      const version = (raw as { version?: unknown } | null)?.version;
      if (version !== '4') {
        return reply(400, {
          error: `unsupported Alertmanager webhook payload version ${JSON.stringify(version ?? null)}: this endpoint reads version "4"`,
        });
      }
      const parsed = NotificationSchema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
        return reply(400, {
          error: `not an Alertmanager webhook notification: ${issues.join('; ')}`,
          issues,
        });
      }
      const notification = parsed.data;
      if (notification.truncatedAlerts > 0) {
        logger.warn(
          { truncatedAlerts: notification.truncatedAlerts, groupKey: notification.groupKey },
          'Alertmanager truncated this notification (max_alerts); some alerts were not sent',
        );
      }
      const alerts = notification.alerts.map((alert) => toAlertFired(alert, notification));
      let accepted = 0;
      let duplicates = 0;
      try {
        for (const data of alerts) {
          const result = await bus.publish('AlertFired', data, {
            deliveryKey: alertDeliveryKey(data),
            cause: null,
            ...(data.alertname ? { subject: data.alertname } : {}),
          });
          if (result.duplicate) duplicates++;
          else accepted++;
        }
      } catch (error) {
        if (isSwitchyardError(error) && !error.retryable) {
          // The event itself is invalid: a retry of the same payload cannot succeed.
          return reply(400, { error: error.message, accepted, duplicates });
        }
        logger.error({ err: error, groupKey: notification.groupKey }, 'appending AlertFired failed');
        return reply(503, { error: `could not store the alerts, retry later: ${(error as Error).message}` });
      }
      return reply(202, { accepted, duplicates });
    },
  };
}
