import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calls } from './fixtures/echo-plugin.js';
import { auth, baseConfig, bootDaemon, type TestDaemon, until } from './helpers.js';

const RULES = `
rules:
  - name: notify
    on: DeploymentCompleted
    if: data.environment == "production" && data.outcome == "succeeded"
    do:
      - action: echo.say
        with: { text: "deployed {{ .data.service }} {{ .data.version }}", to: "{{ .data.issueKeys }}" }
      - action: echo.say
        with: { text: "for {{ .subject }}" }
  - name: then-fail
    on: [EchoHeard]
    maxAttempts: 2
    do:
      - action: echo.say
        with: { text: "heard {{ .data.text }}" }
      - action: echo.fail
        with: { reason: "always" }
`;

let t: TestDaemon;
const post = (event: Record<string, unknown>) =>
  t.daemon.http.inject({
    method: 'POST',
    url: '/events',
    headers: { 'content-type': 'application/cloudevents+json', ...auth },
    payload: JSON.stringify({ specversion: '1.0', source: 'test/rules', ...event }),
  });
const deployment = (environment: string) => ({
  service: 'api',
  environment,
  version: '2.0.0',
  outcome: 'succeeded',
  issueKeys: ['PROJ-1', 'PROJ-2'],
});

beforeAll(async () => {
  t = await bootDaemon(baseConfig(RULES));
});
afterAll(async () => {
  await t?.daemon.stop();
});

describe('rules', () => {
  it('runs each action in order with `with` rendered from the event, one idempotency key per step', async () => {
    calls.length = 0;
    const res = await post({
      id: 'dep-prod',
      type: 'DeploymentCompleted',
      subject: 'PROJ-1',
      data: deployment('production'),
    });
    expect(res.statusCode).toBe(202);
    await until(() => calls.length >= 2);
    expect(calls).toEqual([
      {
        action: 'say',
        params: { text: 'deployed api 2.0.0', to: ['PROJ-1', 'PROJ-2'] },
        key: 'dep-prod:rule:notify:0',
        cause: 'dep-prod',
      },
      { action: 'say', params: { text: 'for PROJ-1' }, key: 'dep-prod:rule:notify:1', cause: 'dep-prod' },
    ]);
    const deliveries = await until(async () => {
      const d = await t.daemon.transport.deliveries('dep-prod');
      return d.some((x) => x.status === 'succeeded') ? d : undefined;
    });
    expect(deliveries[0]).toMatchObject({ subscription: 'rule:notify', status: 'succeeded' });
    expect(deliveries[0]?.result).toEqual({
      matched: true,
      actions: [
        { action: 'echo.say', result: { said: 'hi, deployed api 2.0.0' } },
        { action: 'echo.say', result: { said: 'hi, for PROJ-1' } },
      ],
    });
    const line = t.logs.find((l) => l.includes('rule action done') && l.includes('dep-prod'));
    expect(JSON.parse(line!)).toMatchObject({
      eventId: 'dep-prod',
      correlationId: 'dep-prod',
      rule: 'notify',
    });
  });

  it('skips actions when the condition is false', async () => {
    calls.length = 0;
    await post({ id: 'dep-dev', type: 'DeploymentCompleted', data: deployment('dev') });
    const deliveries = await until(async () => {
      const d = await t.daemon.transport.deliveries('dep-dev');
      return d.some((x) => x.status === 'succeeded') ? d : undefined;
    });
    expect(deliveries[0]?.result).toEqual({ matched: false, actions: [] });
    expect(calls).toEqual([]);
  });

  it('dead-letters a failing rule; a replay does not repeat the steps that succeeded', async () => {
    calls.length = 0;
    const hook = await t.daemon.http.inject({
      method: 'POST',
      url: '/webhooks/echo',
      headers: { 'x-echo-signature': 'len=5' },
      payload: 'hello',
    });
    expect(hook.statusCode).toBe(202);
    const heard = hook.json().id as string;
    const dead = await until(async () => {
      const res = await t.daemon.http.inject({
        method: 'GET',
        url: '/dlq?subscription=rule:then-fail',
        headers: auth,
      });
      const list = res.json().deadLetters as Array<{
        id: string;
        event: { id: string };
        lastError: { code: string };
      }>;
      return list.find((d) => d.event.id === heard);
    });
    expect(dead.lastError.code).toBe('ECHO_FAILED');
    expect(calls.map((c) => c.action)).toEqual(['say', 'fail']);

    const replay = await t.daemon.http.inject({
      method: 'POST',
      url: `/dlq/${dead.id}/replay`,
      headers: auth,
    });
    expect(replay.json()).toEqual({ replayed: 1 });
    await until(() => calls.filter((c) => c.action === 'fail').length >= 2);
    // The first step succeeded before, so its recorded result is used instead of running it again.
    expect(calls.map((c) => c.action)).toEqual(['say', 'fail', 'fail']);

    const again = await until(async () => {
      const res = await t.daemon.http.inject({
        method: 'GET',
        url: '/dlq?subscription=rule:then-fail',
        headers: auth,
      });
      return (res.json().deadLetters as Array<{ id: string; event: { id: string } }>).find(
        (d) => d.event.id === heard,
      );
    });
    const metrics = await t.daemon.http.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/switchyard_dlq_size [1-9]/);
    const drop = await t.daemon.http.inject({ method: 'DELETE', url: `/dlq/${again.id}`, headers: auth });
    expect(drop.json()).toEqual({ dropped: 1 });
    const trace = await t.daemon.http.inject({ method: 'GET', url: `/events/${heard}/trace`, headers: auth });
    expect(trace.json().deliveries.map((d: { subscription: string }) => d.subscription)).toContain(
      'rule:then-fail',
    );
  });
});
