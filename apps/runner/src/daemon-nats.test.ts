// The daemon on `store: { kind: nats }` against a real nats-server: ingest, a rule, the read and
// trace API, the dead-letter API, and readiness across a server restart. Skipped only when
// nats-server is not installed (and then failing under CI, like the transport's own tests).
import { findNatsServer, type NatsServer, startNatsServer } from '@switchyard/testing';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calls } from '../test/fixtures/echo-plugin.js';
import { auth, baseConfig, bootDaemon, type TestDaemon, until } from '../test/helpers.js';

const RULES = `
rules:
  - name: notify
    on: DeploymentCompleted
    concurrency: 4
    do:
      - action: echo.say
        with: { text: "deployed {{ .data.version }}" }
  - name: slow-gate
    on: DeploymentCompleted
    if: data.environment == "staging"
    do:
      - action: echo.slow
        with: { ms: 3000 }
  - name: then-fail
    on: [EchoHeard]
    do:
      - action: echo.fail
        with: { reason: "always" }
`;

const deployment = (id: string, version: string, environment = 'dev') => ({
  specversion: '1.0',
  id,
  source: 'test/nats',
  type: 'DeploymentCompleted',
  subject: 'PROJ-1',
  data: { service: 'api', environment, version, outcome: 'succeeded', issueKeys: ['PROJ-1'] },
});

describe.skipIf(findNatsServer() === undefined)('daemon on the nats store', () => {
  let server: NatsServer;
  let t: TestDaemon;
  const inject = (options: InjectOptions) => t.daemon.http.inject(options);
  const post = (event: Record<string, unknown>) =>
    inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/cloudevents+json', ...auth },
      payload: JSON.stringify(event),
    });
  const said = (text: string) =>
    calls.filter((c) => c.action === 'say' && (c.params as { text: string }).text === text).length;
  const succeeded = (id: string, subscription = 'rule:notify') =>
    until(async () => {
      const res = await inject({ method: 'GET', url: `/events/${id}/trace`, headers: auth });
      const deliveries = res.json().deliveries as Array<{ subscription: string; status: string }>;
      return deliveries.find((d) => d.subscription === subscription && d.status === 'succeeded');
    }, 20_000);

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    t = await bootDaemon(
      baseConfig(RULES, {
        store: `{ kind: nats, servers: [${server.url}], stream: RUNNER_TEST, name: runner-test, ackWait: 2s }`,
      }),
    );
  });
  afterAll(async () => {
    await t?.daemon.stop({ deadlineMs: 1000 });
    await server?.stop();
  });

  it('opens the NATS transport with the configured stream and connection name', async () => {
    expect(t.daemon.transport.kind).toBe('nats');
    const ready = t.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'switchyard ready');
    expect(ready.store).toBe(`nats ${server.url} stream RUNNER_TEST`);
    expect((await t.daemon.transport.health()).ok).toBe(true);
  });

  it('handles a posted event by a rule; GET /events/:id and /trace read it back from JetStream', async () => {
    const res = await post(deployment('nats-dep-1', '1.0.0'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id: 'nats-dep-1', duplicate: false });
    const again = await post(deployment('nats-dep-1', '1.0.0'));
    expect(again.json()).toEqual({ id: 'nats-dep-1', duplicate: true });

    const delivery = await succeeded('nats-dep-1');
    expect(delivery).toMatchObject({ subscription: 'rule:notify', status: 'succeeded', attempts: 1 });
    expect(said('deployed 1.0.0')).toBe(1);

    const one = await inject({ method: 'GET', url: '/events/nats-dep-1', headers: auth });
    expect(one.statusCode).toBe(200);
    expect(one.json().event).toMatchObject({
      id: 'nats-dep-1',
      correlationid: 'nats-dep-1',
      subject: 'PROJ-1',
    });
    const trace = await inject({ method: 'GET', url: '/events/nats-dep-1/trace', headers: auth });
    expect(trace.json()).toMatchObject({ id: 'nats-dep-1', events: [{ id: 'nats-dep-1' }] });
    const list = await inject({
      method: 'GET',
      url: '/events?type=DeploymentCompleted&limit=10',
      headers: auth,
    });
    expect(list.json().events.map((e: { id: string }) => e.id)).toEqual(['nats-dep-1']);
    expect((await inject({ method: 'GET', url: '/events/nope', headers: auth })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/events/nope/trace', headers: auth })).statusCode).toBe(404);
  });

  it('dead-letters a failing rule; GET /dlq lists it, replay runs it again, drop removes it', async () => {
    const hook = await inject({
      method: 'POST',
      url: '/webhooks/echo',
      headers: { 'x-echo-signature': 'len=5' },
      payload: 'hello',
    });
    expect(hook.statusCode).toBe(202);
    const heard = hook.json().id as string;
    const failures = () => calls.filter((c) => c.action === 'fail' && c.cause === heard).length;
    const deadLetter = async () => {
      const res = await inject({ method: 'GET', url: '/dlq?subscription=rule:then-fail', headers: auth });
      expect(res.statusCode).toBe(200);
      return (
        res.json().deadLetters as Array<{
          id: string;
          event: { id: string };
          attempts: number;
          lastError: { code: string };
        }>
      ).find((d) => d.event.id === heard);
    };
    const dead = await until(deadLetter, 15_000);
    // A permanent error: dead-lettered at once, with the error the action threw.
    expect(dead).toMatchObject({ attempts: 1, lastError: { code: 'ECHO_FAILED' } });
    expect(failures()).toBe(1);

    const replay = await inject({ method: 'POST', url: `/dlq/${dead.id}/replay`, headers: auth });
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toEqual({ replayed: 1 });
    await until(() => failures() >= 2, 15_000);
    const again = await until(async () => {
      const d = await deadLetter();
      return d && d.id !== dead.id ? d : undefined;
    }, 15_000);
    expect((await inject({ method: 'DELETE', url: `/dlq/${dead.id}`, headers: auth })).statusCode).toBe(404);
    const drop = await inject({ method: 'DELETE', url: `/dlq/${again.id}`, headers: auth });
    expect(drop.json()).toEqual({ dropped: 1 });
    expect(await deadLetter()).toBeUndefined();
    const trace = await inject({ method: 'GET', url: `/events/${heard}/trace`, headers: auth });
    expect(trace.json().deliveries).toEqual(
      expect.arrayContaining([expect.objectContaining({ subscription: 'rule:then-fail', status: 'dead' })]),
    );
  });

  it('/readyz answers 503 while nats-server is down and 200 after it is back; nothing handled is lost or repeated', async () => {
    expect((await inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const before = await post(deployment('nats-before-restart', '2.0.0'));
    expect(before.statusCode).toBe(202);
    await succeeded('nats-before-restart');
    // A handler still running when the server goes away (its ack can only be sent after the reconnect).
    const slow = (phase: string) =>
      calls.filter((c) => c.action === phase && c.cause === 'nats-in-flight').length;
    expect((await post(deployment('nats-in-flight', '2.5.0', 'staging'))).statusCode).toBe(202);
    await until(() => slow('slow-start') >= 1, 10_000);

    let whileDown:
      | { statusCode: number; body: { ok: boolean; store: { ok: boolean; detail: string } } }
      | undefined;
    await server.restart(async () => {
      whileDown = await until(async () => {
        const res = await inject({ method: 'GET', url: '/readyz' });
        return res.statusCode === 503 ? { statusCode: res.statusCode, body: res.json() } : undefined;
      }, 15_000);
    });
    expect(whileDown).toMatchObject({ statusCode: 503, body: { ok: false, store: { ok: false } } });
    expect(whileDown?.body.store.detail).toMatch(/disconnected|did not answer|closed/);

    await until(
      async () => ((await inject({ method: 'GET', url: '/readyz' })).statusCode === 200 ? true : undefined),
      20_000,
    );
    const after = await until(async () => {
      const res = await post(deployment('nats-after-restart', '3.0.0'));
      return res.statusCode === 202 ? res : undefined;
    }, 20_000);
    expect(after.json().id).toBe('nats-after-restart');
    await succeeded('nats-after-restart');
    expect(said('deployed 3.0.0')).toBe(1);
    // The in-flight handler was not lost with the connection: it finished (maybe twice, if its ack
    // wait ran out during the outage) and its delivery is recorded as succeeded.
    await succeeded('nats-in-flight', 'rule:slow-gate');
    expect(slow('slow-end')).toBeGreaterThanOrEqual(1);
    // Handled and acked before the restart: not delivered again after it.
    await new Promise((r) => setTimeout(r, 2500)); // longer than ackWait
    expect(said('deployed 2.0.0')).toBe(1);
    expect(said('deployed 1.0.0')).toBe(1);
  }, 90_000);
});
