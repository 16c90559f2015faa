import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, baseConfig, bootDaemon, SECRET, type TestDaemon, TOKEN } from './helpers.js';

let t: TestDaemon;
const inject = (options: InjectOptions) => t.daemon.http.inject(options);

const ce = (over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: `id-${Math.random().toString(36).slice(2)}`,
  source: 'test/http',
  type: 'DeploymentCompleted',
  subject: 'svc',
  data: { service: 'api', environment: 'dev', version: '1.0.0', outcome: 'succeeded', issueKeys: ['PROJ-1'] },
  ...over,
});

beforeAll(async () => {
  t = await bootDaemon(baseConfig());
});
afterAll(async () => {
  await t?.daemon.stop();
});

describe('POST /events', () => {
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/cloudevents+json', ...auth, ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('accepts a structured event with 202 and its id, and stores it once', async () => {
    const event = ce();
    const first = await post(event);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ id: event.id, duplicate: false });
    const again = await post(event);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ id: event.id, duplicate: true });
    const stored = await t.daemon.transport.query({ type: 'DeploymentCompleted' });
    expect(stored.filter((e) => e.id === event.id)).toHaveLength(1);
  });

  it('accepts binary mode (ce-* headers, JSON body)', async () => {
    const res = await inject({
      method: 'POST',
      url: '/events',
      headers: {
        ...auth,
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'binary-1',
        'ce-source': 'test/binary',
        'ce-type': 'DeploymentCompleted',
        'ce-subject': 'PROJ-9',
      },
      payload: JSON.stringify(ce().data),
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id: 'binary-1', duplicate: false });
    expect((await t.daemon.transport.get('binary-1'))?.subject).toBe('PROJ-9');
  });

  it('401 without a token, 403 with a wrong one; nothing stored', async () => {
    const event = ce();
    const none = await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/cloudevents+json' },
      payload: JSON.stringify(event),
    });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(none.json().error.code).toBe('SY_RUNNER_UNAUTHORIZED');
    const wrong = await post(event, { authorization: 'Bearer nope-nope-nope' });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe('SY_RUNNER_FORBIDDEN');
    const basic = await post(event, { authorization: `Basic ${TOKEN}` });
    expect(basic.statusCode).toBe(401);
    expect(await t.daemon.transport.get(event.id)).toBeUndefined();
  });

  it('400 names every invalid field', async () => {
    const res = await post({
      specversion: '0.3',
      source: '',
      type: 'DeploymentCompleted',
      data: { service: '' },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('SY_EVENT_INVALID');
    const paths = body.error.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'specversion',
        'id',
        'source',
        'data.service',
        'data.environment',
        'data.outcome',
      ]),
    );
  });

  it('400 for an unknown type, bad JSON, a non-object, and binary mode without ce- headers', async () => {
    const unknown = await post(ce({ type: 'NoSuchThing' }));
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.issues[0]).toMatchObject({ path: 'type' });
    expect(unknown.json().error.issues[0].message).toContain('unknown event type "NoSuchThing"');
    const bad = await post('{"specversion": ');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/^the body is not valid JSON/);
    const list = await post([1, 2]);
    expect(list.statusCode).toBe(400);
    const binary = await inject({
      method: 'POST',
      url: '/events',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(binary.statusCode).toBe(400);
    expect(binary.json().error.message).toContain('ce-specversion');
    const binaryMissing = await inject({
      method: 'POST',
      url: '/events',
      headers: {
        ...auth,
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-type': 'DeploymentCompleted',
      },
      payload: JSON.stringify(ce().data),
    });
    expect(binaryMissing.statusCode).toBe(400);
    expect(binaryMissing.json().error.issues.map((i: { path: string }) => i.path)).toEqual([
      'ce-id',
      'ce-source',
    ]);
  });

  it('413 over server.bodyLimit, 415 for other content types', async () => {
    const big = await post(ce({ data: { ...ce().data, version: 'x'.repeat(5000) } }));
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('SY_RUNNER_BODY_TOO_LARGE');
    const text = await inject({
      method: 'POST',
      url: '/events',
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('SY_RUNNER_UNSUPPORTED_MEDIA_TYPE');
    const batch = await post([ce()], { 'content-type': 'application/cloudevents-batch+json' });
    expect(batch.statusCode).toBe(415);
  });
});

describe('event read API', () => {
  it('GET /events filters, GET /events/:id, GET /events/:id/trace; 400 and 404 with reasons', async () => {
    const event = ce({ subject: 'READ-1' });
    await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/cloudevents+json', ...auth },
      payload: JSON.stringify(event),
    });
    const list = await inject({ method: 'GET', url: '/events?subject=READ-1&limit=5', headers: auth });
    expect(list.statusCode).toBe(200);
    expect(list.json().events.map((e: { id: string }) => e.id)).toEqual([event.id]);
    const one = await inject({ method: 'GET', url: `/events/${event.id}`, headers: auth });
    expect(one.json().event).toMatchObject({ id: event.id, correlationid: event.id });
    const trace = await inject({ method: 'GET', url: `/events/${event.id}/trace`, headers: auth });
    expect(trace.statusCode).toBe(200);
    expect(trace.json()).toMatchObject({ id: event.id, events: [{ id: event.id }], deliveries: [] });
    expect((await inject({ method: 'GET', url: '/events/nope', headers: auth })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/events/nope/trace', headers: auth })).statusCode).toBe(404);
    const bad = await inject({
      method: 'GET',
      url: '/events?limit=0&since=yesterday&colour=red',
      headers: auth,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues.map((i: { path: string }) => i.path)).toEqual([
      'since',
      'limit',
      'colour',
    ]);
    expect((await inject({ method: 'GET', url: '/events' })).statusCode).toBe(401);
  });
});

describe('DLQ API', () => {
  it('lists, replays and drops; 404 for unknown ids; bulk replay needs a filter', async () => {
    expect((await inject({ method: 'GET', url: '/dlq' })).statusCode).toBe(401);
    const empty = await inject({ method: 'GET', url: '/dlq', headers: auth });
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toEqual({ deadLetters: [] });
    expect((await inject({ method: 'POST', url: '/dlq/nope/replay', headers: auth })).statusCode).toBe(404);
    expect((await inject({ method: 'DELETE', url: '/dlq/nope', headers: auth })).statusCode).toBe(404);
    const noFilter = await inject({ method: 'POST', url: '/dlq/replay', headers: auth, payload: {} });
    expect(noFilter.statusCode).toBe(400);
    expect(noFilter.json().error.message).toContain('"all": true');
    const all = await inject({ method: 'POST', url: '/dlq/replay', headers: auth, payload: { all: true } });
    expect(all.json()).toEqual({ replayed: 0 });
    const badLimit = await inject({ method: 'GET', url: '/dlq?limit=-1', headers: auth });
    expect(badLimit.statusCode).toBe(400);
  });
});

describe('webhooks', () => {
  it('hands the exact bytes to the plugin route, with query and sub-path', async () => {
    const payload = '{"b": 1,  "a":2}';
    const res = await inject({
      method: 'POST',
      url: '/webhooks/echo?x=1&x=2',
      headers: { 'content-type': 'application/json', 'x-echo-signature': `len=${payload.length}` },
      payload,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ query: { x: '1' }, path: '' });
    const event = await t.daemon.transport.get(res.json().id);
    expect(event?.data).toEqual({ text: payload, length: payload.length });
  });

  it('passes the plugin’s own 401 through', async () => {
    const res = await inject({
      method: 'POST',
      url: '/webhooks/echo',
      headers: { 'content-type': 'text/plain' },
      payload: 'x',
    });
    expect(res.statusCode).toBe(401);
  });

  it('answers a throwing handler with a generic 500 and logs it without the secret', async () => {
    const res = await inject({ method: 'POST', url: '/webhooks/echo/boom', payload: 'x' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toEqual({
      code: 'SY_RUNNER_WEBHOOK_FAILED',
      message: 'the echo webhook failed; the daemon log has the details',
    });
    const line = t.logs.find((l) => l.includes('webhook handler failed'));
    expect(line).toBeDefined();
    expect(line).not.toContain(SECRET);
    expect(line).toContain('[redacted]');
  });

  it('enforces the route’s own body limit, 404s unknown paths and 405s wrong methods', async () => {
    const small = await inject({ method: 'POST', url: '/webhooks/echo/small', payload: '0123456789abc' });
    expect(small.statusCode).toBe(413);
    const ok = await inject({ method: 'POST', url: '/webhooks/echo/small', payload: '0123' });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('0123');
    const get = await inject({ method: 'GET', url: '/webhooks/echo/hello' });
    expect(get.body).toBe('hello');
    const missing = await inject({ method: 'POST', url: '/webhooks/nothing', payload: 'x' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.message).toContain('POST /webhooks/echo');
    const wrong = await inject({ method: 'GET', url: '/webhooks/echo/small' });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
  });

  it('serves the Alertmanager alias at /webhooks/alertmanager', async () => {
    const res = await inject({
      method: 'POST',
      url: '/webhooks/alertmanager',
      headers: { 'content-type': 'application/json' },
      payload: '{"alerts":[]}',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: 13, path: '/alertmanager' });
  });
});

describe('probes and metrics', () => {
  it('/healthz, /readyz and /metrics need no token', async () => {
    expect((await inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ ok: true });
    const ready = await inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      ok: true,
      state: 'running',
      store: { ok: true },
      plugins: { echo: { ok: true } },
    });
    const metrics = await inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('switchyard_events_published_total');
    expect(metrics.body).toContain('switchyard_dlq_size 0');
    expect(metrics.body).toContain('process_resident_memory_bytes');
  });

  it('404s unknown routes with the list of routes', async () => {
    const res = await inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toContain('POST/GET /events');
  });

  it('never shows a secret in an API answer', async () => {
    const event = ce({ subject: SECRET });
    await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/cloudevents+json', ...auth },
      payload: JSON.stringify(event),
    });
    const res = await inject({ method: 'GET', url: `/events/${event.id}`, headers: auth });
    expect(res.body).not.toContain(SECRET);
    expect(res.json().event.subject).toBe('[redacted]');
  });
});
