import { FakeJira } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EMAIL, failure, type Harness, harness, TOKEN } from './__fixtures__/setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const comment = { issue: 'PROJ-1', body: 'hello' };
const onComment = (r: { path: string }) => r.path.endsWith('/comment');

async function ready(options: Record<string, unknown> = {}, fake?: FakeJira) {
  h = await harness(options, fake);
  h.jira.addIssue({ key: 'PROJ-1' });
  return h;
}

describe('Jira error mapping', () => {
  it('401 → permanent, naming the credentials to check, never their values', async () => {
    const fake = new FakeJira({ auth: { email: EMAIL, token: 'a-different-token' } });
    const { host } = await ready({}, fake);
    const error = await failure(host.invoke('jira.comment', comment));
    expect(error).toMatchObject({ code: 'SY_JIRA_UNAUTHORIZED', retryable: false });
    expect(error.message).toContain('check plugins.jira.options.email and plugins.jira.options.token');
    expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain(TOKEN);
    expect(JSON.stringify(host.logs)).not.toContain(TOKEN);
  });

  it('401 on Server/DC (bearer) names the personal access token', async () => {
    const { host } = await ready({ email: undefined });
    const error = await failure(host.invoke('jira.comment', comment));
    expect(error.message).toContain(
      'check plugins.jira.options.token (a Server/Data Center personal access token',
    );
  });

  it('403 and 404 are permanent; 404 names the issue', async () => {
    const { host, jira } = await ready();
    jira.inject({
      kind: 'status',
      status: 403,
      body: { errorMessages: ['You do not have permission to comment.'], errors: {} },
    });
    const forbidden = await failure(host.invoke('jira.comment', comment));
    expect(forbidden).toMatchObject({ code: 'SY_JIRA_FORBIDDEN', retryable: false });
    expect(forbidden.message).toContain('You do not have permission to comment.');
    const missing = await failure(host.invoke('jira.comment', { issue: 'NOPE-9', body: 'x' }));
    expect(missing).toMatchObject({ code: 'SY_JIRA_ISSUE_NOT_FOUND', retryable: false });
    expect(missing.message).toContain('issue NOPE-9 does not exist');
  });

  it('429 with a short Retry-After is retried after exactly that long on the clock', async () => {
    const { host, jira } = await ready();
    jira.inject({ kind: 'status', status: 429, headers: { 'retry-after': '2' } }, 1, onComment);
    const pending = host.invoke('jira.comment', comment);
    await host.advance(1_999);
    expect(jira.requests.filter(onComment)).toHaveLength(1);
    expect(jira.comments('PROJ-1')).toHaveLength(0);
    await host.advance(1);
    await pending;
    expect(jira.requests.filter(onComment)).toHaveLength(2);
    expect(jira.comments('PROJ-1')).toHaveLength(1);
  });

  it('429 with a long Retry-After → retryable with that delay, jittered upward', async () => {
    const { host, jira } = await ready();
    jira.inject({
      kind: 'status',
      status: 429,
      headers: { 'retry-after': '120' },
      body: { errorMessages: ['Rate limit exceeded.'] },
    });
    const error = await failure(host.invoke('jira.comment', comment));
    expect(error).toMatchObject({ code: 'SY_JIRA_RATE_LIMITED', retryable: true });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(120_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(144_000);
    expect(jira.comments('PROJ-1')).toHaveLength(0);
  });

  it('503 with an HTTP-date Retry-After → retryable with the delay until that date', async () => {
    const { host, jira } = await ready();
    const at = new Date(host.clock.now() + 90_000).toUTCString();
    jira.inject({ kind: 'status', status: 503, headers: { 'retry-after': at } }, 3);
    const error = await failure(host.invoke('jira.comment', comment));
    expect(error).toMatchObject({ code: 'SY_JIRA_UNAVAILABLE', retryable: true });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(90_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(108_000);
  });

  it('other 5xx, connection resets and timeouts are retryable', async () => {
    const { host, jira } = await ready({ timeoutMs: 100 });
    jira.inject({ kind: 'status', status: 502, body: '<html>Bad gateway</html>' });
    expect(await failure(host.invoke('jira.comment', comment))).toMatchObject({
      code: 'SY_JIRA_SERVER_ERROR',
      retryable: true,
    });
    jira.inject({ kind: 'reset' });
    expect(await failure(host.invoke('jira.comment', comment))).toMatchObject({
      code: 'SY_JIRA_NETWORK',
      retryable: true,
    });
    jira.inject({ kind: 'delay', ms: 400 });
    expect(await failure(host.invoke('jira.comment', comment))).toMatchObject({
      code: 'SY_JIRA_TIMEOUT',
      retryable: true,
    });
  });

  it("400 → permanent with Jira's errorMessages and errors", async () => {
    const { host, jira } = await ready();
    jira.inject({
      kind: 'status',
      status: 400,
      body: { errorMessages: ['Bad things.'], errors: { customfield_1: 'Option id 9 is not valid' } },
    });
    const error = await failure(
      host.invoke('jira.update', { issue: 'PROJ-1', fields: { customfield_1: { id: '9' } } }),
    );
    expect(error).toMatchObject({ code: 'SY_JIRA_REJECTED', retryable: false });
    expect(error.message).toContain('Bad things.; customfield_1: Option id 9 is not valid');
    const labels = await failure(host.invoke('jira.update', { issue: 'PROJ-1', fields: { status: 'Done' } }));
    expect(labels.message).toContain("status: Field 'status' cannot be set");
  });
});
