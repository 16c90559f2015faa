import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Clock, HttpClient, parseRetryAfter, SwitchyardMetrics } from './index.js';

type Reply = {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
  reset?: boolean;
};

let server: Server | undefined;
async function serve(replies: Reply[]): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      const reply = replies.shift() ?? { status: 200, body: 'ok' };
      if (reply.reset) return req.socket.destroy();
      setTimeout(() => {
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body ?? '');
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
afterEach(async () => {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
});

/** Records requested sleeps and returns at once, so Retry-After waits cost no test time. */
function recordingClock(): Clock & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    now: () => Date.parse('2026-11-26T12:00:00Z'),
    setTimer: (fn, ms) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    },
    sleep: async (ms) => {
      slept.push(ms);
    },
  };
}

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-11-26T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('HttpClient', () => {
  it('sends JSON, reads JSON, counts calls by plugin and status', async () => {
    const { url, seen } = await serve([
      { status: 201, headers: { 'content-type': 'application/json' }, body: '{"id":"1"}' },
    ]);
    const metrics = new SwitchyardMetrics();
    const http = new HttpClient({ plugin: 'jira', metrics });
    const res = await http.request(`${url}/rest/api/3/issue`, { body: { fields: {} } });
    expect(res.status).toBe(201);
    expect(res.json()).toEqual({ id: '1' });
    expect(seen).toEqual(['POST /rest/api/3/issue {"fields":{}}']);
    expect(await metrics.registry.getSingleMetricAsString('switchyard_http_requests_total')).toContain(
      'switchyard_http_requests_total{plugin="jira",method="POST",status="201"} 1',
    );
  });

  it('retries 429/503 in place when Retry-After is short, and hands long waits back', async () => {
    const { url, seen } = await serve([
      { status: 429, headers: { 'retry-after': '1' } },
      { status: 503, headers: { 'retry-after': '2' } },
      { status: 200, body: 'ok' },
      { status: 429, headers: { 'retry-after': '3600' } },
    ]);
    const clock = recordingClock();
    const http = new HttpClient({ plugin: 'slack', clock, maxInlineRetryDelayMs: 5_000 });
    expect((await http.request(url)).status).toBe(200);
    expect(clock.slept).toEqual([1000, 2000]);
    const long = await http.request(url);
    expect(long.status).toBe(429);
    expect(parseRetryAfter(long.header('retry-after'))).toBe(3_600_000);
    expect(seen).toHaveLength(4);
  });

  it('turns timeouts and resets into retryable errors without the query string', async () => {
    const { url } = await serve([
      { status: 200, delayMs: 300 },
      { status: 200, reset: true },
    ]);
    const http = new HttpClient({ plugin: 'dingtalk', timeoutMs: 50 });
    const timeout = await http.request(`${url}/robot/send?access_token=SECRET123`).catch((e) => e);
    expect(timeout).toMatchObject({ code: 'SY_HTTP_TIMEOUT', retryable: true });
    expect(timeout.message).toBe(`GET ${url}/robot/send timed out after 50 ms`);
    const reset = await http.request(`${url}/robot/send?access_token=SECRET123`).catch((e) => e);
    expect(reset).toMatchObject({ code: 'SY_HTTP_NETWORK', retryable: true });
    expect(reset.message).not.toContain('SECRET123');
  });
});
