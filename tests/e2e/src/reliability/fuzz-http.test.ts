// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// Bad input over HTTP, property-based (fast-check), against one in-process daemon on SQLite with
// the Jira, Slack and Prometheus plugins: CloudEvents in structured and binary mode, and the Jira,
// Slack and Alertmanager webhook routes, with bodies and headers generated, signed or not.
// Invariants for every case: no 5xx, every 4xx carries a reason a person can read (JSON
// { error } or, for Slack routes, a text reason as Slack shows it), nothing is stored, the daemon
// stays ready. A seed printed on failure replays the run (`fc.assert` prints it).
import { createHmac, randomUUID } from 'node:crypto';
import { type Daemon, startDaemon } from '@switchyard/runner';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeConfig } from '../support/daemon.js';

const TOKEN = 'fuzz-suite-api-token-0123456789';
const JIRA_SECRET = 'jira-webhook-secret-fuzz-42';
const SLACK_SECRET = 'slack-signing-secret-fuzz-42';
const AM_TOKEN = 'alertmanager-token-fuzz-42';
/** Cases per property; the file's total is printed at the end (≥ 10k with the config/CLI file). */
const RUNS = Number(process.env.SY_FUZZ_RUNS ?? 1000);

let daemon: Daemon;
const logs: string[] = [];
let cases = 0;

interface Answer {
  status: number;
  body: string;
  contentType: string;
}

async function send(
  method: string,
  url: string,
  headers: Record<string, string>,
  payload?: string | Buffer,
): Promise<Answer> {
  const res = await daemon.http.inject({
    method: method as 'POST',
    url,
    headers,
    ...(payload !== undefined ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.body, contentType: String(res.headers['content-type'] ?? '') };
}

/** The reason in a 4xx answer: `{ error: { message } }` or `{ error: "…" }`; every route answers JSON. */
function reasonOf(answer: Answer): string | undefined {
  if (answer.contentType.includes('json')) {
    try {
      const body = JSON.parse(answer.body) as { error?: unknown };
      if (typeof body.error === 'string' && body.error.length > 0) return body.error;
      const message = (body.error as { message?: unknown } | undefined)?.message;
      if (typeof message === 'string' && message.length > 0) return message;
    } catch {
      return undefined;
    }
    return undefined;
  }
  return undefined;
}

async function storedCount(): Promise<number> {
  const res = await send('GET', '/events?limit=1000', { authorization: `Bearer ${TOKEN}` });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { events: unknown[] }).events.length;
}

/** Bad input: a 4xx with a reason, never a 5xx; and the store still holds nothing. */
async function expectRejected(answer: Answer, what: string) {
  cases++;
  if (answer.status < 400 || answer.status >= 500 || !reasonOf(answer)) {
    throw new Error(
      `${what}: expected a 4xx with a reason, got ${answer.status} ${answer.body.slice(0, 300)}`,
    );
  }
}

/** Input a route may acknowledge without acting on it (2xx) or refuse (4xx with a reason): never 5xx. */
async function expectHandled(answer: Answer, what: string) {
  cases++;
  if (answer.status >= 500 || (answer.status >= 400 && !reasonOf(answer))) {
    throw new Error(`${what}: got ${answer.status} ${answer.body.slice(0, 300)}`);
  }
  if (answer.status === 202) throw new Error(`${what}: accepted (202): ${answer.body.slice(0, 300)}`);
}

// ---- generators ----

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json({ maxDepth: 3 }),
  fc.constantFrom('', '{', '[]', 'null', '"x"', '{"a":', '\u0000', '{}'.repeat(50)),
);
const extraHeaders = fc.dictionary(
  headerName.filter((n) => !['content-length', 'host', 'transfer-encoding', 'connection'].includes(n)),
  printable,
  { maxKeys: 4 },
);
const contentType = fc.constantFrom(
  'application/json',
  'application/cloudevents+json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  '',
);

const validData = {
  service: 'api',
  environment: 'production',
  version: '1.0.0',
  outcome: 'succeeded',
  issueKeys: ['PROJ-1'],
};
const validEvent = () => ({
  specversion: '1.0',
  id: randomUUID(),
  source: 'e2e/fuzz',
  type: 'DeploymentCompleted',
  subject: 'PROJ-1',
  data: { ...validData },
});

/** One change that makes a valid CloudEvent invalid. */
const breakEvent: fc.Arbitrary<(e: Record<string, unknown>) => void> = fc.oneof(
  fc.constantFrom('specversion', 'id', 'source', 'type').map((k) => (e: Record<string, unknown>) => {
    delete e[k];
  }),
  fc
    .oneof(
      fc.string().filter((s) => s !== '1.0'),
      fc.integer(),
      fc.constant(null),
    )
    .map((v) => (e: Record<string, unknown>) => {
      e.specversion = v;
    }),
  fc
    .oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }))
    .map((v) => (e: Record<string, unknown>) => {
      e.id = v;
    }),
  fc
    .oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.object({ maxDepth: 1 }))
    .map((v) => (e: Record<string, unknown>) => {
      e.source = v;
    }),
  fc
    .oneof(fc.stringMatching(/^Unknown[A-Za-z]{0,10}$/), fc.integer(), fc.constant(''))
    .map((v) => (e: Record<string, unknown>) => {
      e.type = v;
    }),
  fc
    .oneof(
      fc.string().filter((s) => Number.isNaN(Date.parse(s))),
      fc.integer({ min: -5, max: 5 }),
    )
    .map((v) => (e: Record<string, unknown>) => {
      e.time = v;
    }),
  fc
    .constantFrom('service', 'environment', 'version', 'outcome', 'issueKeys')
    .map((k) => (e: Record<string, unknown>) => {
      delete (e.data as Record<string, unknown>)[k];
    }),
  fc
    .oneof(fc.integer(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.string())
    .map((v) => (e: Record<string, unknown>) => {
      (e.data as Record<string, unknown>).outcome =
        typeof v === 'string' && ['succeeded', 'failed'].includes(v) ? 1 : v;
    }),
  fc
    .oneof(
      fc.integer(),
      fc.constant(null),
      fc.string(),
      fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
    )
    .map((v) => (e: Record<string, unknown>) => {
      (e.data as Record<string, unknown>).issueKeys = v;
    }),
  fc.stringMatching(/^[A-Z_-][A-Za-z0-9_-]{0,10}$/).map((k) => (e: Record<string, unknown>) => {
    e[k] = 'extension with an invalid name';
  }),
);

describe('fuzzing the HTTP surface with bad input', () => {
  beforeAll(async () => {
    const dir = tempDir('sy-fuzz-');
    const config = writeConfig(
      dir,
      [
        'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TOKEN}, bodyLimit: 64kb }',
        'store: { kind: sqlite, path: ./data/fuzz.db }',
        'plugins:',
        '  jira: { options: { baseUrl: "http://127.0.0.1:9", token: ${env:JIRA_TOKEN}, webhookSecret: ${env:JIRA_WEBHOOK_SECRET} } }',
        '  slack: { options: { webhookUrl: "http://127.0.0.1:9/services/T0/B0/fuzz", signingSecret: ${env:SLACK_SIGNING_SECRET} } }',
        '  prometheus: { options: { url: "http://127.0.0.1:9", alertmanager: { token: ${env:AM_TOKEN} } } }',
        'log: { level: warn }',
      ].join('\n'),
    );
    daemon = await startDaemon({
      config,
      port: 0,
      env: {
        SY_TOKEN: TOKEN,
        JIRA_TOKEN: 'jira-token-fuzz-0000',
        JIRA_WEBHOOK_SECRET: JIRA_SECRET,
        SLACK_SIGNING_SECRET: SLACK_SECRET,
        AM_TOKEN,
      },
      logDestination: { write: (line: string) => logs.push(line) },
    });
    expect(await storedCount()).toBe(0);
  });

  afterAll(async () => {
    await daemon?.stop();
    console.log(`[reliability:fuzz-http] ${JSON.stringify({ cases })}`);
  });

  it('POST /events, structured mode: a valid event with one thing broken is refused with the field named', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(breakEvent, { minLength: 1, maxLength: 3 }), async (breaks) => {
        const event: Record<string, unknown> = validEvent();
        for (const b of breaks) b(event);
        const answer = await send(
          'POST',
          '/events',
          { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/cloudevents+json' },
          JSON.stringify(event),
        );
        await expectRejected(answer, `structured ${JSON.stringify(event)}`);
      }),
      { numRuns: RUNS * 2 },
    );
    expect(await storedCount()).toBe(0);
  });

  it('POST /events: arbitrary bodies, content types, headers and tokens are refused', async () => {
    const auth = fc.oneof(
      fc.constant(`Bearer ${TOKEN}`),
      fc.constant(undefined),
      printable.map((t) => `Bearer ${t}`),
      printable,
    );
    await fc.assert(
      fc.asyncProperty(anyText, contentType, auth, extraHeaders, async (body, type, authorization, extra) => {
        const headers: Record<string, string> = { ...extra };
        if (type) headers['content-type'] = type;
        if (authorization !== undefined) headers.authorization = authorization;
        // ce-* headers from `extra` are kept: with the random body they never form a valid event.
        const answer = await send('POST', '/events', headers, body);
        await expectRejected(answer, `POST /events ${JSON.stringify({ headers, body })}`);
      }),
      { numRuns: RUNS * 2 },
    );
    expect(await storedCount()).toBe(0);
  });

  it('POST /events, binary mode: ce-* headers with missing or broken attributes are refused', async () => {
    const attribute = (valid: string) =>
      fc.oneof(
        { weight: 3, arbitrary: fc.constant(valid) },
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: printable },
      );
    await fc.assert(
      fc.asyncProperty(
        attribute('1.0'),
        attribute('id-1'),
        attribute('e2e/fuzz'),
        fc.oneof(fc.constant('DeploymentCompleted'), fc.stringMatching(/^Unknown[A-Za-z]{0,8}$/)),
        fc.oneof(fc.json({ maxDepth: 2 }), fc.constant(JSON.stringify({ ...validData, outcome: 'maybe' }))),
        extraHeaders,
        async (specversion, id, source, type, body, extra) => {
          const headers: Record<string, string> = {
            ...extra,
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            'ce-type': type,
          };
          if (specversion !== undefined) headers['ce-specversion'] = specversion;
          if (id !== undefined) headers['ce-id'] = id;
          if (source !== undefined) headers['ce-source'] = source;
          const answer = await send('POST', '/events', headers, body);
          await expectRejected(answer, `binary ${JSON.stringify({ headers, body })}`);
        },
      ),
      { numRuns: RUNS * 2 },
    );
    expect(await storedCount()).toBe(0);
  });

  it('POST /webhooks/jira: unsigned or wrongly signed requests are refused; signed junk is never stored', async () => {
    const signature = fc.oneof(
      fc.constant(undefined),
      printable,
      fc.stringMatching(/^sha256=[0-9a-f]{64}$/),
      fc.constant('sha256='),
    );
    await fc.assert(
      fc.asyncProperty(anyText, signature, extraHeaders, async (body, sig, extra) => {
        const headers: Record<string, string> = { ...extra, 'content-type': 'application/json' };
        if (sig !== undefined) headers['x-hub-signature'] = sig;
        await expectRejected(await send('POST', '/webhooks/jira', headers, body), `jira unsigned ${body}`);
      }),
      { numRuns: RUNS },
    );
    const jiraLike = fc.record(
      {
        webhookEvent: fc.oneof(fc.constant('jira:issue_updated'), fc.string(), fc.integer()),
        issue: fc.oneof(
          fc.record(
            {
              id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
              key: fc.oneof(fc.string(), fc.constant('PROJ-1'), fc.integer()),
              fields: fc.oneof(fc.object({ maxDepth: 1 }), fc.string()),
            },
            { requiredKeys: [] },
          ),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        changelog: fc.oneof(
          fc.record({
            items: fc.array(
              fc.record(
                {
                  field: fc.constantFrom('status', 'summary'),
                  toString: fc.oneof(fc.constant(''), fc.integer()),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 2 },
            ),
          }),
          fc.jsonValue({ maxDepth: 1 }),
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyText,
          jiraLike.map((j) => JSON.stringify(j)),
        ),
        extraHeaders,
        async (body, extra) => {
          const headers: Record<string, string> = {
            ...extra,
            'content-type': 'application/json',
            'x-atlassian-webhook-identifier': randomUUID(),
            'x-hub-signature': `sha256=${createHmac('sha256', JIRA_SECRET).update(body).digest('hex')}`,
          };
          await expectHandled(await send('POST', '/webhooks/jira', headers, body), `jira signed ${body}`);
        },
      ),
      { numRuns: RUNS },
    );
    expect(await storedCount()).toBe(0);
  });

  it('POST /webhooks/slack/*: unsigned, stale or wrongly signed requests are refused; signed junk is never stored', async () => {
    const now = () => Math.floor(Date.now() / 1000);
    const path = fc.constantFrom('/webhooks/slack/commands', '/webhooks/slack/interactions');
    const timestamp = fc.oneof(
      fc.constant(undefined),
      printable,
      fc.integer({ min: 0, max: 1_000_000_000 }).map(String),
      fc.constant('now'),
    );
    await fc.assert(
      fc.asyncProperty(
        path,
        anyText,
        timestamp,
        fc.option(printable),
        extraHeaders,
        async (p, body, ts, sig, extra) => {
          const headers: Record<string, string> = {
            ...extra,
            'content-type': 'application/x-www-form-urlencoded',
          };
          if (ts !== undefined) headers['x-slack-request-timestamp'] = ts === 'now' ? String(now()) : ts;
          if (sig !== null) headers['x-slack-signature'] = sig;
          await expectRejected(await send('POST', p, headers, body), `slack unsigned ${p} ${body}`);
        },
      ),
      { numRuns: RUNS },
    );
    const form = fc.oneof(
      anyText,
      fc
        .dictionary(
          fc.constantFrom('payload', 'command', 'text', 'user_id', 'response_url', 'trigger_id'),
          anyText,
          {
            maxKeys: 4,
          },
        )
        .map((d) => new URLSearchParams(d).toString()),
      fc
        .record(
          {
            type: fc.constantFrom('block_actions', 'view_submission', 'x'),
            actions: fc.array(
              fc.record({
                action_id: fc.constantFrom('switchyard_approve', 'switchyard_reject', 'x'),
                value: anyText,
              }),
              { maxLength: 2 },
            ),
            user: fc.jsonValue({ maxDepth: 1 }),
            response_url: fc.constantFrom('http://127.0.0.1:9/x', 'not a url'),
          },
          { requiredKeys: [] },
        )
        .map((payload) => new URLSearchParams({ payload: JSON.stringify(payload) }).toString()),
    );
    await fc.assert(
      fc.asyncProperty(path, form, extraHeaders, async (p, body, extra) => {
        const ts = String(now());
        const signature = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:`).update(body).digest('hex')}`;
        const headers: Record<string, string> = {
          ...extra,
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': ts,
          'x-slack-signature': signature,
        };
        await expectHandled(await send('POST', p, headers, body), `slack signed ${p} ${body}`);
      }),
      { numRuns: RUNS },
    );
    expect(await storedCount()).toBe(0);
  });

  it('POST /webhooks/alertmanager: wrong credentials and broken notifications are refused', async () => {
    const auth = fc.oneof(
      fc.constant(undefined),
      printable,
      printable.map((t) => `Bearer ${t}`),
    );
    await fc.assert(
      fc.asyncProperty(anyText, auth, extraHeaders, async (body, authorization, extra) => {
        const headers: Record<string, string> = { ...extra, 'content-type': 'application/json' };
        if (authorization !== undefined) headers.authorization = authorization;
        await expectRejected(
          await send('POST', '/webhooks/alertmanager', headers, body),
          `am unauth ${body}`,
        );
      }),
      { numRuns: RUNS },
    );
    const alert = {
      status: 'firing',
      labels: { alertname: 'HighErrorRate', service: 'api' },
      annotations: { summary: 'errors' },
      startsAt: '2026-11-26T18:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus/graph',
      fingerprint: 'abc123',
    };
    const notification = {
      version: '4',
      groupKey: '{}:{alertname="HighErrorRate"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'switchyard',
      groupLabels: { alertname: 'HighErrorRate' },
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager',
      alerts: [alert],
    };
    const broken: fc.Arbitrary<string> = fc.oneof(
      anyText,
      fc
        .oneof(fc.string(), fc.integer(), fc.constant(null))
        .filter((v) => v !== '4')
        .map((version) => JSON.stringify({ ...notification, version })),
      fc
        .jsonValue({ maxDepth: 2 })
        .filter((v) => !Array.isArray(v))
        .map((alerts) => JSON.stringify({ ...notification, alerts })),
      fc
        .record({
          status: fc.oneof(
            fc.string().filter((s) => s !== 'firing' && s !== 'resolved'),
            fc.integer(),
          ),
        })
        .map((over) => JSON.stringify({ ...notification, alerts: [{ ...alert, ...over }] })),
      fc
        .oneof(
          fc.string().filter((s) => Number.isNaN(Date.parse(s))),
          fc.integer(),
          fc.constant(null),
        )
        .map((startsAt) => JSON.stringify({ ...notification, alerts: [{ ...alert, startsAt }] })),
      fc
        .oneof(fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 2 }))
        .map((labels) => JSON.stringify({ ...notification, alerts: [{ ...alert, labels }] })),
    );
    await fc.assert(
      fc.asyncProperty(broken, extraHeaders, async (body, extra) => {
        const headers: Record<string, string> = {
          ...extra,
          'content-type': 'application/json',
          authorization: `Bearer ${AM_TOKEN}`,
        };
        await expectRejected(
          await send('POST', '/webhooks/alertmanager', headers, body),
          `am broken ${body}`,
        );
      }),
      { numRuns: RUNS },
    );
    expect(await storedCount()).toBe(0);
  });

  it('the daemon is still ready, logged no request failure and no secret', async () => {
    const ready = await send('GET', '/readyz', {});
    expect(ready.status).toBe(200);
    const failures = logs.filter(
      (l) => l.includes('"request failed"') || l.includes('webhook handler failed'),
    );
    expect(failures).toEqual([]);
    for (const secret of [TOKEN, JIRA_SECRET, SLACK_SECRET, AM_TOKEN]) {
      expect(logs.filter((l) => l.includes(secret))).toEqual([]);
    }
    expect(cases).toBeGreaterThanOrEqual(RUNS * 12);
  });
});
