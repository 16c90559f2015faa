import { createHash, timingSafeEqual } from 'node:crypto';
import {
  isSwitchyardError,
  type Logger,
  type PluginBus,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookRoute,
  webhookError,
} from '@switchyard/core';
import { z } from 'zod';
import { PrometheusErrorCodes as Codes } from './errors.js';
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
        return webhookError(
          401,
          Codes.ALERTMANAGER_AUTH,
          'missing or wrong credentials: set http_config.authorization or basic_auth on the Alertmanager webhook_config',
          { headers: { 'www-authenticate': scheme } },
        );
      }
      let raw: unknown;
      try {
        raw = JSON.parse(request.rawBody.toString('utf8'));
      } catch {
        return webhookError(
          400,
          Codes.ALERTMANAGER_INVALID,
          'body is not JSON: this endpoint takes Alertmanager webhook notifications (version 4)',
        );
      }
      const version = (raw as { version?: unknown } | null)?.version;
      if (version !== '4') {
        return webhookError(
          400,
          Codes.ALERTMANAGER_INVALID,
          `unsupported Alertmanager webhook payload version ${JSON.stringify(version ?? null)}: this endpoint reads version "4"`,
        );
      }
      const parsed = NotificationSchema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({
          path: i.path.join('.') || '(body)',
          message: i.message,
        }));
        return webhookError(
          400,
          Codes.ALERTMANAGER_INVALID,
          `not an Alertmanager webhook notification: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
          { issues },
        );
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
          return webhookError(
            400,
            Codes.ALERTMANAGER_INVALID,
            `${error.message} (${accepted} alerts of this notification were stored before it, ${duplicates} were already stored)`,
          );
        }
        logger.error({ err: error, groupKey: notification.groupKey }, 'appending AlertFired failed');
        return webhookError(
          503,
          Codes.ALERTMANAGER_STORE_FAILED,
          `could not store the alerts, Alertmanager will retry: ${(error as Error).message}`,
        );
      }
      return { status: 202, body: { accepted, duplicates } };
    },
  };
}
