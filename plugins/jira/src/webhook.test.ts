import { signJiraWebhook } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, harness, SECRET, TOKEN } from './__fixtures__/setup.js';
import { WEBHOOK_BODY_LIMIT } from './webhook.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
}

describe('POST /webhooks/jira', () => {
  it('turns a signed status change into one IssueTransitioned, with raw and custom fields', async () => {
    h = await harness({ webhookSecret: SECRET });
    h.jira.addIssue({
      key: 'PROJ-7',
      status: 'To Do',
      summary: 'Checkout button',
      labels: ['web'],
      fields: { customfield_10001: 'git@example.com:shop/checkout.git' },
    });
    const sent = await h.jira.sendWebhook(
      h.webhookUrl,
      { issueKey: 'PROJ-7', to: 'Ready for Development' },
      { secret: SECRET },
    );
    expect(sent.status).toBe(202);
    const event = await h.host.waitFor('IssueTransitioned');
    expect(event.subject).toBe('PROJ-7');
    expect(event.source).toBe('switchyard/plugin-jira');
    expect(event.data).toMatchObject({
      issueKey: 'PROJ-7',
      projectKey: 'PROJ',
      summary: 'Checkout button',
      issueType: 'Story',
      fromStatus: 'To Do',
      toStatus: 'Ready for Development',
      transitionedBy: {
        displayName: 'Switchyard Bot',
        accountId: expect.any(String),
        email: 'switchyard@example.com',
      },
      labels: ['web'],
      url: `${h.jira.url}/browse/PROJ-7`,
      fields: { customfield_10001: 'git@example.com:shop/checkout.git' },
    });
    expect((event.data as any).issueId).toBe(h.jira.issue('PROJ-7')!.id);
  });

  it('emits once when Jira retries with the same identifier, answering 2xx both times', async () => {
    h = await harness({ webhookSecret: SECRET });
    h.jira.addIssue({ key: 'PROJ-1' });
    const first = await h.jira.sendWebhook(
      h.webhookUrl,
      { issueKey: 'PROJ-1', to: 'Ready for Development' },
      { secret: SECRET, identifier: 'abc-1' },
    );
    const again = await h.jira.sendWebhook(
      h.webhookUrl,
      { issueKey: 'PROJ-1', from: 'To Do', to: 'Ready for Development' },
      { secret: SECRET, identifier: 'abc-1' },
    );
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, eventId: (first.body as any).eventId });
    await h.host.waitFor('IssueTransitioned');
    expect(h.host.emitted('IssueTransitioned')).toHaveLength(1);
    expect(await h.host.core.transport.query({})).toHaveLength(1);
  });

  it('answers 401 and stores nothing for a missing or wrong signature', async () => {
    h = await harness({ webhookSecret: SECRET });
    h.jira.addIssue({ key: 'PROJ-1' });
    const missing = await h.jira.sendWebhook(h.webhookUrl, {
      issueKey: 'PROJ-1',
      to: 'Ready for Development',
    });
    const wrong = await h.jira.sendWebhook(
      h.webhookUrl,
      { issueKey: 'PROJ-1', to: 'In Development' },
      { secret: 'not-the-secret' },
    );
    const garbage = await h.jira.sendWebhook(
      h.webhookUrl,
      { issueKey: 'PROJ-1', to: 'In Review' },
      { signature: 'sha256=zz' },
    );
    expect([missing.status, wrong.status, garbage.status]).toEqual([401, 401, 401]);
    expect(missing.body).toMatchObject({
      error: { code: 'SY_JIRA_WEBHOOK_SIGNATURE', message: expect.stringMatching(/missing/) },
    });
    expect(wrong.body).toMatchObject({
      error: { code: 'SY_JIRA_WEBHOOK_SIGNATURE', message: expect.stringMatching(/does not match/) },
    });
    expect(await h.host.core.transport.query({})).toEqual([]);
    expect(JSON.stringify(h.host.logs)).not.toContain(SECRET);
  });

  it('acknowledges updates that are not status changes and events of other kinds, without an event', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-2' });
    const edit = await h.jira.sendWebhook(h.webhookUrl, {
      issueKey: 'PROJ-2',
      items: [{ field: 'summary', fieldtype: 'jira', fromString: 'a', toString: 'b' }],
    });
    const created = await h.jira.sendWebhook(h.webhookUrl, {
      issueKey: 'PROJ-2',
      webhookEvent: 'jira:issue_created',
    });
    const comment = await post(
      h.webhookUrl,
      JSON.stringify({ webhookEvent: 'comment_created', comment: { id: '1' } }),
    );
    expect(edit).toMatchObject({
      status: 200,
      body: { accepted: false, ignored: 'no status change in the changelog' },
    });
    expect(created.status).toBe(200);
    expect(comment.status).toBe(200);
    expect(await h.host.core.transport.query({})).toEqual([]);
  });

  it('warns at start that the endpoint is open when no secret is set', async () => {
    h = await harness();
    const warning = h.host.logs.find((l) => l.level === 40 && String(l.msg).includes('unsigned'));
    expect(warning?.msg).toMatch(/webhookSecret/);
    expect(JSON.stringify(h.host.logs)).not.toContain(TOKEN);
  });

  it('rejects malformed JSON, non-Jira payloads and oversize bodies with a 4xx and a reason', async () => {
    h = await harness({ webhookSecret: SECRET });
    const signed = (raw: string | Buffer) => ({ 'x-hub-signature': signJiraWebhook(raw, SECRET) });
    const bad = '{"webhookEvent": "jira:issue_updated", ';
    const notJson = await post(h.webhookUrl, bad, signed(bad));
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('SY_JIRA_WEBHOOK_INVALID_JSON');
    const other = JSON.stringify({ hello: 'world' });
    expect((await post(h.webhookUrl, other, signed(other))).body).toMatchObject({
      error: { code: 'SY_JIRA_WEBHOOK_NOT_JIRA', message: 'not a Jira webhook: webhookEvent is missing' },
    });
    const noKey = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { id: '1', fields: {} } });
    expect((await post(h.webhookUrl, noKey, signed(noKey))).body.error.message).toMatch(/issue\.key/);
    const big = Buffer.alloc(WEBHOOK_BODY_LIMIT + 1, 0x20);
    const tooBig = await post(h.webhookUrl, big, signed(big));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('SY_JIRA_WEBHOOK_TOO_LARGE');
    const route = h.host.core.host.routes().find((r) => r.fullPath === '/webhooks/jira');
    expect(route?.bodyLimit).toBe(WEBHOOK_BODY_LIMIT);
    expect(await h.host.core.transport.query({})).toEqual([]);
  });

  it('filters by project and issue type', async () => {
    h = await harness({ projects: ['OPS'], issueTypes: ['Bug'] });
    h.jira.addIssue({ key: 'PROJ-3', issueType: 'Bug' });
    h.jira.addIssue({ key: 'OPS-4', issueType: 'Story' });
    h.jira.addIssue({ key: 'OPS-5', issueType: 'bug' });
    const project = await h.jira.sendWebhook(h.webhookUrl, {
      issueKey: 'PROJ-3',
      to: 'Ready for Development',
    });
    const type = await h.jira.sendWebhook(h.webhookUrl, { issueKey: 'OPS-4', to: 'Ready for Development' });
    const kept = await h.jira.sendWebhook(h.webhookUrl, { issueKey: 'OPS-5', to: 'Ready for Development' });
    expect(project.body).toMatchObject({ ignored: 'project PROJ is not in plugins.jira.options.projects' });
    expect(type.body).toMatchObject({ ignored: expect.stringMatching(/issue type "Story"/) });
    expect(kept.status).toBe(202);
    await h.host.waitFor('IssueTransitioned');
    expect(h.host.emitted('IssueTransitioned').map((e) => e.subject)).toEqual(['OPS-5']);
  });
});
