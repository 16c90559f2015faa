// prometheus.validate against a fake Prometheus (real HTTP on loopback) that misbehaves on purpose.
import { systemClock } from '@switchyard/core';
import { createTestHost, FakeHttpServer, type FakeRequest, type TestHost } from '@switchyard/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import plugin from './index.js';

const ok = (value = '0.004') => ({
  status: 200,
  body: {
    status: 'success',
    data: {
      resultType: 'vector',
      result: [{ metric: { service: 'checkout' }, value: [1795736342.2, value] }],
    },
  },
});

const params = {
  check: 'error ratio',
  query: 'sy_error_ratio{service="checkout"}',
  operator: '<',
  expectedValue: 0.01,
};

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the promise to reject');
}

describe('prometheus.validate against a faulty Prometheus', () => {
  let fake: FakeHttpServer;
  let reply: (req: FakeRequest) => { status: number; body?: unknown; headers?: Record<string, string> } =
    () => ok();
  const hosts: TestHost[] = [];
  const start = async (options: Record<string, unknown> = {}) => {
    const host = await createTestHost({
      plugins: [{ plugin, options: { url: fake.url, ...options } }],
      clock: systemClock,
      secrets: ['s3cret-token', 'hunter2-password'],
    });
    hosts.push(host);
    return host;
  };

  beforeAll(async () => {
    fake = await new FakeHttpServer((req) => reply(req)).start();
  });
  afterEach(async () => {
    fake.clearFaults();
    fake.requests.length = 0;
    reply = () => ok();
    for (const host of hosts.splice(0)) await host.close();
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('POSTs the query as a form to /api/v1/query with the bearer token and timeout', async () => {
    const host = await start({ token: 's3cret-token', timeoutMs: 5_000 });
    const result = await host.invoke('prometheus.validate', params);
    expect(result).toMatchObject({ verdict: 'passed' });
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/api/v1/query' });
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req!.headers.authorization).toBe('Bearer s3cret-token');
    const form = new URLSearchParams(req!.rawBody.toString());
    expect(form.get('query')).toBe(params.query);
    expect(form.get('timeout')).toBe('5000ms');
  });

  it('uses basic auth and keeps a path prefix of the url', async () => {
    const host = await start({
      url: `${fake.url}/prometheus/`,
      username: 'gate',
      password: 'hunter2-password',
    });
    await host.invoke('prometheus.validate', params);
    expect(fake.requests[0]!.path).toBe('/prometheus/api/v1/query');
    expect(fake.requests[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from('gate:hunter2-password').toString('base64')}`,
    );
  });

  it('makes 503 retryable, passing on Prometheus error and Retry-After', async () => {
    const host = await start();
    fake.inject({
      kind: 'status',
      status: 503,
      headers: { 'retry-after': '120' },
      body: { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' },
    });
    const error = await rejection(host.invoke('prometheus.validate', params));
    expect(error).toMatchObject({
      code: 'SY_PROMETHEUS_UNAVAILABLE',
      retryable: true,
      retryAfterMs: 120_000,
    });
    expect(error.message).toContain('query timed out in expression evaluation (timeout)');
    expect(host.emitted('MetricValidated')).toHaveLength(0);
  });

  it('retries a brief 503 in place (Retry-After: 0) and then judges the answer', async () => {
    const host = await start();
    fake.inject({ kind: 'status', status: 503, headers: { 'retry-after': '0' } });
    const result = await host.invoke('prometheus.validate', params);
    expect(result).toMatchObject({ verdict: 'passed' });
    expect(fake.requests).toHaveLength(2);
  });

  it('makes a timeout retryable after timeoutMs', async () => {
    const host = await start({ timeoutMs: 300 });
    fake.inject({ kind: 'hang' });
    const error = await rejection(host.invoke('prometheus.validate', params));
    expect(error).toMatchObject({ code: 'SY_PROMETHEUS_TIMEOUT', retryable: true });
    expect(error.message).toContain('did not answer within 300 ms');
  });

  it('makes connection resets and refused connections retryable', async () => {
    const host = await start();
    fake.inject({ kind: 'reset' });
    const reset = await rejection(host.invoke('prometheus.validate', params));
    expect(reset).toMatchObject({ code: 'SY_PROMETHEUS_UNREACHABLE', retryable: true });

    const closed = await new FakeHttpServer(() => ok()).start();
    const url = closed.url;
    await closed.stop();
    const refusing = await start({ url });
    const refused = await rejection(refusing.invoke('prometheus.validate', params));
    expect(refused).toMatchObject({ code: 'SY_PROMETHEUS_UNREACHABLE', retryable: true });
    expect(refused.message).toContain('ECONNREFUSED');
  });

  it('makes 401 permanent without leaking the credentials', async () => {
    const host = await start({ token: 's3cret-token' });
    reply = () => ({ status: 401, body: 'Unauthorized' });
    const error = await rejection(host.invoke('prometheus.validate', params));
    expect(error).toMatchObject({ code: 'SY_PROMETHEUS_AUTH', retryable: false });
    expect(error.message).toContain('token or username + password');
    expect(JSON.stringify(error)).not.toContain('s3cret-token');
    expect(JSON.stringify(host.logs)).not.toContain('s3cret-token');
  });

  it('explains a wrong url (404) and an answer that is not Prometheus JSON', async () => {
    const host = await start();
    reply = () => ({ status: 404, body: '404 page not found' });
    const notFound = await rejection(host.invoke('prometheus.validate', params));
    expect(notFound).toMatchObject({ code: 'SY_PROMETHEUS_HTTP', retryable: false });
    expect(notFound.message).toContain('--web.route-prefix');

    reply = () => ({ status: 200, body: '<html>Sign in</html>' });
    const html = await rejection(host.invoke('prometheus.validate', params));
    expect(html).toMatchObject({ code: 'SY_PROMETHEUS_BAD_RESPONSE', retryable: false });

    reply = () => ok('twelve');
    const garbage = await rejection(host.invoke('prometheus.validate', params));
    expect(garbage).toMatchObject({ code: 'SY_PROMETHEUS_BAD_RESPONSE' });
    expect(garbage.message).toContain('"twelve" is not a number');
  });
});

describe('options and params', () => {
  it('rejects bad options, naming each field and the fix', async () => {
    const error = await rejection(
      createTestHost({
        plugins: [
          {
            plugin,
            options: {
              url: 'ftp://prom',
              token: 't0ken',
              username: 'u',
              timeoutMs: -1,
              alertmanager: { password: 'p4ss' },
            },
          },
        ],
      }),
    );
    expect(error.code).toBe('SY_PLUGIN_CONFIG_INVALID');
    expect(error.message).toContain('plugins.prometheus.options.url: url must be an http(s) URL');
    expect(error.message).toContain(
      'plugins.prometheus.options.token: use either token (bearer) or username + password',
    );
    expect(error.message).toContain('plugins.prometheus.options.password: username needs a password');
    expect(error.message).toContain('plugins.prometheus.options.timeoutMs: timeoutMs must be positive');
    expect(error.message).toContain(
      'plugins.prometheus.options.alertmanager.username: password needs a username',
    );
    expect(error.message).not.toContain('t0ken');
  });

  it('rejects params a gate cannot run, before any query', async () => {
    const fake = await new FakeHttpServer(() => ok()).start();
    const host = await createTestHost({ plugins: [{ plugin, options: { url: fake.url } }] });
    try {
      const invalid = (p: Record<string, unknown>) =>
        rejection(host.invoke('prometheus.validate', { ...params, ...p }));
      const noInterval = await invalid({ count: 3 });
      expect(noInterval.code).toBe('SY_ACTION_PARAMS_INVALID');
      expect(noInterval.message).toContain('interval is required when count is 3');
      expect((await invalid({ count: 2, interval: '30x' })).message).toContain(
        'interval must be a duration like "30s", "2m"',
      );
      expect((await invalid({ count: 2, interval: '1s', failureLimit: 2 })).message).toContain(
        'failureLimit 2 must be less than count 2',
      );
      expect((await invalid({ operator: '=>' })).message).toContain('operator');
      expect((await invalid({ expectedValue: 'high' })).message).toContain(
        'expectedValue must be a finite number',
      );
      expect(fake.requests).toHaveLength(0);
    } finally {
      await host.close();
      await fake.stop();
    }
  });
});
