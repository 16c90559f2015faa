import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeJira } from './jira.js';

const auth = `Basic ${Buffer.from('bot@example.com:tok').toString('base64')}`;
let jira: FakeJira;
afterEach(() => jira?.stop());

async function call(path: string, init: { method?: string; body?: unknown; authorization?: string } = {}) {
  const res = await fetch(`${jira.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: init.authorization ?? auth, 'content-type': 'application/json' },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('FakeJira', () => {
  it('checks Basic auth with a Jira-like 401 body, and Bearer for Server/DC', async () => {
    jira = await new FakeJira({ auth: { email: 'bot@example.com', token: 'tok' } }).start();
    jira.addIssue({ key: 'PROJ-1' });
    expect(await call('/rest/api/3/issue/PROJ-1', { authorization: 'Bearer tok' })).toEqual({
      status: 401,
      body: { errorMessages: [expect.stringContaining('not authenticated')], errors: {} },
    });
    expect((await call('/rest/api/3/issue/PROJ-1?fields=status')).body.fields).toEqual({
      status: expect.objectContaining({ name: 'To Do', id: '10000' }),
    });
    await jira.stop();
    jira = await new FakeJira({ auth: { token: 'pat' } }).start();
    jira.addIssue({ key: 'PROJ-1' });
    expect((await call('/rest/api/2/issue/PROJ-1', { authorization: 'Bearer pat' })).status).toBe(200);
    expect((await call('/rest/api/2/issue/PROJ-2', { authorization: 'Bearer pat' })).status).toBe(404);
  });

  it('lists the transitions available from the current status and refuses others with 400', async () => {
    jira = await new FakeJira({ auth: { email: 'bot@example.com', token: 'tok' } }).start();
    jira.addIssue({ key: 'PROJ-1', status: 'In Review' });
    const { body } = await call('/rest/api/3/issue/PROJ-1/transitions');
    expect(body.transitions.map((t: any) => `${t.id}:${t.name}->${t.to.name}`)).toEqual([
      '41:Request changes->In Development',
      '51:Approve->Done',
    ]);
    expect(
      await call('/rest/api/3/issue/PROJ-1/transitions', {
        method: 'POST',
        body: { transition: { id: '11' } },
      }),
    ).toEqual({
      status: 400,
      body: { errorMessages: ["Transition id '11' is not valid for this issue."], errors: {} },
    });
    const bad = { transition: { id: '51' }, update: { comment: [{ add: { body: 'plain text' } }] } };
    expect(
      (await call('/rest/api/3/issue/PROJ-1/transitions', { method: 'POST', body: bad })).body.errors.comment,
    ).toMatch(/Atlassian Document/);
    expect(jira.issue('PROJ-1')!.status).toBe('In Review');
    const ok = await call('/rest/api/3/issue/PROJ-1/transitions', {
      method: 'POST',
      body: { transition: { id: '51' } },
    });
    expect(ok.status).toBe(204);
    expect(jira.issue('PROJ-1')!.history).toMatchObject([
      { from: 'In Review', to: 'Done', transitionId: '51', by: 'api' },
    ]);
  });

  it('validates comment bodies: ADF on v3 (code only with link), strings on v2', async () => {
    jira = await new FakeJira({ auth: false }).start();
    jira.addIssue({ key: 'PROJ-1' });
    const adf = (marks: unknown[]) => ({
      type: 'doc',
      version: 1,
      content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x', marks }] }],
    });
    expect(
      (
        await call('/rest/api/3/issue/PROJ-1/comment', {
          method: 'POST',
          body: { body: adf([{ type: 'code' }]) },
        })
      ).status,
    ).toBe(201);
    const mixed = await call('/rest/api/3/issue/PROJ-1/comment', {
      method: 'POST',
      body: { body: adf([{ type: 'code' }, { type: 'strong' }]) },
    });
    expect(mixed).toMatchObject({
      status: 400,
      body: { errors: { comment: expect.stringMatching(/code mark/) } },
    });
    expect(
      (await call('/rest/api/2/issue/PROJ-1/comment', { method: 'POST', body: { body: adf([]) } })).status,
    ).toBe(400);
    expect(
      (await call('/rest/api/2/issue/PROJ-1/comment', { method: 'POST', body: { body: 'h1. ok' } })).status,
    ).toBe(201);
    expect(jira.comments('PROJ-1').map((c) => c.apiVersion)).toEqual([3, 2]);
  });

  it('sends a signed webhook in the shape Jira sends, and moves the issue', async () => {
    jira = await new FakeJira().start();
    jira.addIssue({ key: 'PROJ-1', fields: { customfield_10001: 'repo' } });
    let seen: { headers: Record<string, unknown>; raw: string } | undefined;
    const sink = createServer(async (req, res) => {
      let raw = '';
      for await (const c of req) raw += c;
      seen = { headers: req.headers, raw };
      res.writeHead(202).end('{}');
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
    try {
      const result = await jira.sendWebhook(
        url,
        { issueKey: 'PROJ-1', to: 'Ready for Development' },
        { secret: 's3cret', identifier: 'id-1' },
      );
      expect(result.status).toBe(202);
      expect(seen!.headers['x-atlassian-webhook-identifier']).toBe('id-1');
      expect(seen!.headers['x-hub-signature']).toBe(
        `sha256=${createHmac('sha256', 's3cret').update(seen!.raw).digest('hex')}`,
      );
      const payload = JSON.parse(seen!.raw);
      expect(payload).toMatchObject({
        webhookEvent: 'jira:issue_updated',
        timestamp: expect.any(Number),
        user: { accountId: expect.any(String), displayName: 'Switchyard Bot' },
        issue: {
          key: 'PROJ-1',
          id: expect.any(String),
          self: expect.stringContaining('/rest/api/2/issue/'),
          fields: { customfield_10001: 'repo' },
        },
        changelog: {
          id: expect.any(String),
          items: [
            {
              field: 'status',
              fieldtype: 'jira',
              from: '10000',
              fromString: 'To Do',
              to: '10001',
              toString: 'Ready for Development',
            },
          ],
        },
      });
      expect(jira.issue('PROJ-1')!.status).toBe('Ready for Development');
    } finally {
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });
});
