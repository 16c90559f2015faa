// POST /webhooks/prometheus/alertmanager with Alertmanager's documented webhook payload (version 4).
import { MemoryTransport, type SwitchyardEvent } from '@switchyard/core';
import { createTestHost, type TestHost } from '@switchyard/testing';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import plugin, { type AlertFiredData } from './index.js';

const URL_OPTIONS = { url: 'http://127.0.0.1:9' };

/** The shape Alertmanager's webhook_config sends (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
function notification(overrides: Record<string, unknown> = {}) {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighErrorRatio"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'switchyard',
    groupLabels: { alertname: 'HighErrorRatio' },
    commonLabels: { alertname: 'HighErrorRatio', severity: 'page' },
    commonAnnotations: { summary: 'Error ratio above 1%' },
    externalURL: 'http://alertmanager.example:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'HighErrorRatio', service: 'checkout', severity: 'page' },
        annotations: { summary: 'Error ratio above 1%', runbook_url: 'https://runbooks.example/errors' },
        startsAt: '2026-11-26T17:58:30.739266876Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example:9090/graph?g0.expr=sy_error_ratio+%3E+0.01&g0.tab=1',
        fingerprint: '1a30ba71cca2921f',
      },
      {
        status: 'resolved',
        labels: { alertname: 'HighErrorRatio', service: 'payments', severity: 'page' },
        annotations: { summary: 'Error ratio above 1%' },
        startsAt: '2026-11-26T17:40:00.000Z',
        endsAt: '2026-11-26T17:55:00.000Z',
        generatorURL: 'http://prometheus.example:9090/graph?g0.expr=sy_error_ratio+%3E+0.01&g0.tab=1',
        fingerprint: 'c6eadffa33fcdf37',
      },
    ],
    ...overrides,
  };
}

describe('Alertmanager webhook', () => {
  let host: TestHost;
  afterEach(async () => {
    await host?.close();
  });

  it('emits one AlertFired per alert and answers 202', async () => {
    host = await createTestHost({ plugins: [{ plugin, options: URL_OPTIONS }] });
    const response = await host.webhook('prometheus', { path: '/alertmanager', body: notification() });
    expect(response).toMatchObject({ status: 202, body: { accepted: 2, duplicates: 0 } });
    const events = host.emitted('AlertFired');
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ source: 'switchyard/plugin-prometheus', subject: 'HighErrorRatio' });
    expect(events[0]!.data).toEqual({
      status: 'firing',
      alertname: 'HighErrorRatio',
      labels: { alertname: 'HighErrorRatio', service: 'checkout', severity: 'page' },
      annotations: { summary: 'Error ratio above 1%', runbook_url: 'https://runbooks.example/errors' },
      startsAt: '2026-11-26T17:58:30.739266876Z',
      fingerprint: '1a30ba71cca2921f',
      generatorURL: 'http://prometheus.example:9090/graph?g0.expr=sy_error_ratio+%3E+0.01&g0.tab=1',
      receiver: 'switchyard',
      externalURL: 'http://alertmanager.example:9093',
    });
    expect(events[1]!.data).toMatchObject({ status: 'resolved', endsAt: '2026-11-26T17:55:00.000Z' });
  });

  it("dedupes Alertmanager's retries on fingerprint + status + startsAt", async () => {
    host = await createTestHost({ plugins: [{ plugin, options: URL_OPTIONS }] });
    await host.webhook('prometheus', { path: '/alertmanager', body: notification() });
    const retry = await host.webhook('prometheus', { path: '/alertmanager', body: notification() });
    expect(retry).toMatchObject({ status: 202, body: { accepted: 0, duplicates: 2 } });
    const first = notification().alerts[0]!;
    const resolved = await host.webhook('prometheus', {
      path: '/alertmanager',
      body: notification({
        status: 'resolved',
        alerts: [{ ...first, status: 'resolved', endsAt: '2026-11-26T18:10:00Z' }],
      }),
    });
    expect(resolved).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0 } });
    const refired = await host.webhook('prometheus', {
      path: '/alertmanager',
      body: notification({ alerts: [{ ...first, startsAt: '2026-11-26T19:00:00Z' }] }),
    });
    expect(refired).toMatchObject({ status: 202, body: { accepted: 1 } });
    expect(host.emitted('AlertFired').map((e) => (e.data as AlertFiredData).status)).toEqual([
      'firing',
      'resolved',
      'resolved',
      'firing',
    ]);
  });

  it('answers 4xx to payloads a retry cannot fix, and stores nothing', async () => {
    host = await createTestHost({ plugins: [{ plugin, options: URL_OPTIONS }] });
    const post = (body: unknown) => host.webhook('prometheus', { path: '/alertmanager', body });
    const notJson = await post('{"version": "4", alerts: [');
    expect(notJson).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'SY_PROMETHEUS_ALERTMANAGER_INVALID',
          message: expect.stringContaining('body is not JSON'),
        },
      },
    });
    const v3 = await post(notification({ version: '3' }));
    expect(v3.status).toBe(400);
    expect(JSON.stringify(v3.body)).toContain('unsupported Alertmanager webhook payload version \\"3\\"');
    const noAlerts = await post({ ...notification(), alerts: undefined });
    expect(noAlerts.status).toBe(400);
    expect(JSON.stringify(noAlerts.body)).toContain('alerts:');
    const badAlert = notification();
    (badAlert.alerts[0] as Record<string, unknown>).startsAt = 'yesterday';
    delete (badAlert.alerts[1] as Record<string, unknown>).fingerprint;
    const bad = await post(badAlert);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('alerts.0.startsAt: must be an RFC 3339 timestamp');
    expect(JSON.stringify(bad.body)).toContain('alerts.1.fingerprint');
    expect(host.emitted('AlertFired')).toHaveLength(0);
  });

  it('requires the configured bearer token', async () => {
    host = await createTestHost({
      plugins: [{ plugin, options: { ...URL_OPTIONS, alertmanager: { token: 'am-webhook-token' } } }],
    });
    const post = (headers: Record<string, string>) =>
      host.webhook('prometheus', { path: '/alertmanager', body: notification(), headers });
    const missing = await post({});
    expect(missing).toMatchObject({
      status: 401,
      headers: { 'www-authenticate': 'Bearer' },
      body: { error: { code: 'SY_PROMETHEUS_ALERTMANAGER_AUTH' } },
    });
    expect((await post({ authorization: 'Bearer wrong-token' })).status).toBe(401);
    expect((await post({ authorization: 'bearer am-webhook-token' })).status).toBe(202);
    expect(host.emitted('AlertFired')).toHaveLength(2);
  });

  it('requires the configured basic auth', async () => {
    host = await createTestHost({
      plugins: [
        { plugin, options: { ...URL_OPTIONS, alertmanager: { username: 'am', password: 'am-password' } } },
      ],
    });
    const basic = (user: string, pass: string) =>
      `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    const post = (authorization?: string) =>
      host.webhook('prometheus', {
        path: '/alertmanager',
        body: notification(),
        ...(authorization ? { headers: { authorization } } : {}),
      });
    expect(await post()).toMatchObject({
      status: 401,
      headers: { 'www-authenticate': 'Basic realm="switchyard"' },
    });
    expect((await post(basic('am', 'wrong'))).status).toBe(401);
    expect((await post('Bearer am-password')).status).toBe(401);
    expect((await post(basic('am', 'am-password'))).status).toBe(202);
  });

  it('answers 503 when the alerts cannot be stored, so Alertmanager retries', async () => {
    class FailingTransport extends MemoryTransport {
      failing = true;
      override async append(event: SwitchyardEvent, options?: { deliveryKey?: string }) {
        if (this.failing && event.type === 'AlertFired') throw new Error('disk full');
        return super.append(event, options);
      }
    }
    const transport = new FailingTransport();
    host = await createTestHost({ plugins: [{ plugin, options: URL_OPTIONS }], transport });
    const failed = await host.webhook('prometheus', { path: '/alertmanager', body: notification() });
    expect(failed.status).toBe(503);
    expect(JSON.stringify(failed.body)).toContain('disk full');
    transport.failing = false;
    const retried = await host.webhook('prometheus', { path: '/alertmanager', body: notification() });
    expect(retried).toMatchObject({ status: 202, body: { accepted: 2 } });
  });

  it('types AlertFired on the core event map', () => {
    expectTypeOf<import('@switchyard/core').EventMap['AlertFired']>().toEqualTypeOf<AlertFiredData>();
  });
});
