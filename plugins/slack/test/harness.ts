import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestHost, FakeSlack, type FakeSlackOptions, settle, type TestHost } from '@switchyard/testing';
import slack from '../src/index.js';

export const SIGNING_SECRET = 'test-signing-secret-8f742231b10e';

/**
 * Serves the host's webhook routes over real HTTP the way the runner mounts them
 * (`/webhooks/<plugin>/...`, raw body kept), so the fake Slack can call them.
 */
export async function serveRoutes(host: TestHost): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://runner');
    const route = host.core.host.routes().find((r) => r.fullPath === url.pathname && r.method === req.method);
    if (!route) {
      res.writeHead(404).end('no route');
      return;
    }
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const reply = await route.handler({
      method: req.method ?? 'POST',
      path: url.pathname.slice(`/webhooks/${route.plugin}`.length),
      headers,
      query: Object.fromEntries(url.searchParams),
      rawBody: Buffer.concat(chunks),
    });
    const body =
      reply.body === undefined
        ? ''
        : typeof reply.body === 'string'
          ? reply.body
          : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'content-type': typeof reply.body === 'object' ? 'application/json' : 'text/plain; charset=utf-8',
      ...reply.headers,
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Rig {
  host: TestHost;
  fake: FakeSlack;
  runner: { url: string; close(): Promise<void> };
  close(): Promise<void>;
}

/** A test host with the slack plugin, a fake Slack on the host's clock, and the routes served. */
export async function rig(
  options: (fake: FakeSlack) => Record<string, unknown>,
  fakeOptions: Omit<FakeSlackOptions, 'now'> = {},
): Promise<Rig> {
  let host: TestHost | undefined;
  const fake = await new FakeSlack({
    channels: ['C0000000001', { id: 'C0000000002', name: 'releases' }],
    ...fakeOptions,
    now: () => host?.clock.now() ?? Date.now(),
  }).start();
  host = await createTestHost({ plugins: [{ plugin: slack, options: options(fake) }] });
  const runner = await serveRoutes(host);
  return {
    host,
    fake,
    runner,
    async close() {
      await runner.close();
      await host!.close();
      await fake.stop();
    },
  };
}

/** Awaits a promise while moving the manual clock, for work that waits on ctx.clock (flow control). */
export async function drive<T>(
  host: TestHost,
  promise: Promise<T>,
  stepMs = 250,
  maxSteps = 400,
): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  for (let i = 0; i < maxSteps && !done; i++) {
    await new Promise((r) => setTimeout(r, 2));
    await settle(2);
    if (!done) await host.advance(stepMs);
  }
  return watched;
}

/** Polls until `check` returns a truthy value (real time; for work done by subscriptions). */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const issue = {
  issueKey: 'PROJ-123',
  issueId: '10001',
  projectKey: 'PROJ',
  summary: 'Checkout: pay with <saved> cards & vouchers',
  issueType: 'Story',
  fromStatus: 'To Do',
  toStatus: 'Ready for Development',
  transitionedBy: { displayName: 'Ada Lovelace' },
  labels: ['payments'],
  url: 'https://example.atlassian.net/browse/PROJ-123',
  fields: {},
};

export const deployment = {
  service: 'checkout',
  environment: 'production',
  version: '1.4.2',
  outcome: 'succeeded' as const,
  issueKeys: ['PROJ-123'],
};

export const verdict = {
  check: 'error-rate',
  query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))',
  operator: '<' as const,
  expectedValue: 0.01,
  actualValue: 0.2,
  verdict: 'failed' as const,
  passed: false,
  samples: [],
  reason: 'error rate 0.2 is not < 0.01 for 3 of 5 samples',
  service: 'checkout',
  environment: 'production',
  issueKeys: ['PROJ-123'],
};
