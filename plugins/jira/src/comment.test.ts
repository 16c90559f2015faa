import type { MetricValidatedData } from '@switchyard/core';
import { adfProblem, FakeJira } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EMAIL, failure, type Harness, harness, TOKEN } from './__fixtures__/setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** All text of an ADF document, hard breaks as newlines, paragraphs separated by blank lines. */
function adfText(doc: any): string {
  return doc.content
    .map((p: any) => p.content.map((n: any) => (n.type === 'hardBreak' ? '\n' : n.text)).join(''))
    .join('\n\n');
}

const metric: MetricValidatedData = {
  check: 'error-rate',
  query: 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
  operator: '<',
  expectedValue: 0.01,
  actualValue: 0.0421,
  verdict: 'failed',
  passed: false,
  samples: [{ time: '2026-11-26T12:00:00Z', value: 0.0421, labels: {} }],
  reason: 'error rate 4.21% is above the 1% limit',
  service: 'checkout',
  environment: 'production',
  issueKeys: ['PROJ-1'],
};

describe('jira.comment', () => {
  it('writes ADF (v3) with paragraphs, line breaks, links, code and bold', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1' });
    const result = await h.host.invoke('jira.comment', {
      issue: 'PROJ-1',
      body: 'Deployed **v1.2.3** with `make deploy`.\nLogs: [build 7](https://ci.example.com/7)\n\nSee https://example.com/x.',
    });
    expect(result).toEqual({
      issues: [{ issue: 'PROJ-1', outcome: 'commented', commentId: expect.any(String) }],
    });
    const body = h.jira.comments('PROJ-1')[0]!.body as any;
    expect(adfProblem(body)).toBeUndefined();
    expect(body.content).toHaveLength(2);
    expect(body.content[0].content).toEqual([
      { type: 'text', text: 'Deployed ' },
      { type: 'text', text: 'v1.2.3', marks: [{ type: 'strong' }] },
      { type: 'text', text: ' with ' },
      { type: 'text', text: 'make deploy', marks: [{ type: 'code' }] },
      { type: 'text', text: '.' },
      { type: 'hardBreak' },
      { type: 'text', text: 'Logs: ' },
      {
        type: 'text',
        text: 'build 7',
        marks: [{ type: 'link', attrs: { href: 'https://ci.example.com/7' } }],
      },
    ]);
    expect(body.content[1].content[1]).toEqual({
      type: 'text',
      text: 'https://example.com/x',
      marks: [{ type: 'link', attrs: { href: 'https://example.com/x' } }],
    });
  });

  it('writes wiki markup (v2) with the same meaning', async () => {
    h = await harness({ apiVersion: 2, email: undefined }, new FakeJira({ auth: { token: TOKEN } }));
    h.jira.addIssue({ key: 'OPS-1' });
    await h.host.invoke('jira.comment', {
      issue: 'OPS-1',
      body: 'Deployed **v1.2.3** with `make deploy`.\nLogs: [build 7](https://ci.example.com/7)\n\nNot *markup* {here}',
    });
    expect(h.jira.comments('OPS-1')[0]!.body).toBe(
      'Deployed *v1.2.3* with {{make deploy}}.\nLogs: [build 7|https://ci.example.com/7]\n\nNot \\*markup\\* \\{here\\}',
    );
  });

  it('explains a MetricValidated cause when body is omitted: check, query, operator, values, verdict, reason', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1' });
    const { event } = await h.host.receive('MetricValidated', metric);
    await h.host.invoke('jira.comment', { issue: 'PROJ-1' }, { cause: event });
    const body = h.jira.comments('PROJ-1')[0]!.body;
    expect(adfProblem(body)).toBeUndefined();
    const text = adfText(body);
    expect(text).toContain('Metric check "error-rate" failed (service checkout, environment production)');
    expect(text).toContain(`Query: ${metric.query}`);
    expect(text).toContain('Condition: actual 0.0421 < expected 0.01');
    expect(text).toContain('Verdict: failed (1 sample)');
    expect(text).toContain('Reason: error rate 4.21% is above the 1% limit');
    expect(text).toContain(`Switchyard event MetricValidated ${event.id}`);
  });

  it('writes +Inf for an infinite actual value, not Number.MAX_VALUE', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1' });
    const { event } = await h.host.receive('MetricValidated', {
      ...metric,
      actualValue: Number.MAX_VALUE,
      actualRaw: '+Inf',
      samples: [{ time: '2026-11-26T12:00:00Z', value: Number.MAX_VALUE, raw: '+Inf', labels: {} }],
    });
    await h.host.invoke('jira.comment', { issue: 'PROJ-1' }, { cause: event });
    expect(adfText(h.jira.comments('PROJ-1')[0]!.body)).toContain('Condition: actual +Inf < expected 0.01');
  });

  it('explains a DeploymentCompleted cause for every issue it carries', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1' });
    h.jira.addIssue({ key: 'PROJ-2' });
    const { event } = await h.host.receive('DeploymentCompleted', {
      service: 'checkout',
      environment: 'staging',
      version: '1.4.0',
      outcome: 'succeeded',
      namespace: 'shop',
      issueKeys: ['PROJ-1', 'PROJ-2'],
      url: 'https://ci.example.com/deploy/9',
    });
    const result = (await h.host.invoke(
      'jira.comment',
      { issue: ['PROJ-1', 'PROJ-2'] },
      { cause: event },
    )) as any;
    expect(result.issues.map((r: any) => r.issue)).toEqual(['PROJ-1', 'PROJ-2']);
    for (const key of ['PROJ-1', 'PROJ-2']) {
      const text = adfText(h.jira.comments(key)[0]!.body);
      expect(text).toContain('Deployment of checkout 1.4.0 to staging succeeded');
      expect(text).toMatch(
        /Service: checkout\nEnvironment: staging\nVersion: 1\.4\.0\nOutcome: succeeded\nNamespace: shop/,
      );
    }
  });

  it('fails permanently without a body and without a cause; the fake rejects a v3 string body', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1' });
    const error = await failure(h.host.invoke('jira.comment', { issue: 'PROJ-1' }));
    expect(error).toMatchObject({ code: 'SY_JIRA_COMMENT_EMPTY', retryable: false });
    const raw = await fetch(`${h.jira.url}/rest/api/3/issue/PROJ-1/comment`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ body: 'plain' }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({
      errorMessages: [],
      errors: { comment: expect.stringContaining('Atlassian Document') },
    });
  });

  it('rejects bad params with a message naming the field', async () => {
    h = await harness();
    const error = await failure(h.host.invoke('jira.comment', { issue: 'not a key', body: 'x' }));
    expect(error.code).toBe('SY_ACTION_PARAMS_INVALID');
    expect(error.message).toContain('issue');
  });
});

describe('jira.update', () => {
  it('sets fields (string description → ADF on v3) and adds and removes labels', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1', labels: ['old', 'keep'] });
    const result = await h.host.invoke('jira.update', {
      issue: 'PROJ-1',
      fields: { description: 'Built by **Switchyard**', customfield_10001: 'x' },
      labels: { add: ['deployed'], remove: ['old'] },
    });
    expect(result).toEqual({
      issues: [
        {
          issue: 'PROJ-1',
          outcome: 'updated',
          fields: ['description', 'customfield_10001'],
          labelsAdded: ['deployed'],
          labelsRemoved: ['old'],
        },
      ],
    });
    const issue = h.jira.issue('PROJ-1')!;
    expect(issue.fields.labels).toEqual(['keep', 'deployed']);
    expect(issue.fields.customfield_10001).toBe('x');
    expect(adfProblem(issue.fields.description)).toBeUndefined();
    const put = h.jira.writes()[0]!;
    expect(put.method).toBe('PUT');
    expect((put.json as any).update.labels).toEqual([{ add: 'deployed' }, { remove: 'old' }]);
  });

  it('refuses an empty update and labels with spaces before calling Jira', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1' });
    expect((await failure(h.host.invoke('jira.update', { issue: 'PROJ-1' }))).message).toContain(
      'nothing to update',
    );
    expect(
      (await failure(h.host.invoke('jira.update', { issue: 'PROJ-1', labels: ['two words'] }))).message,
    ).toContain('labels cannot contain spaces');
    expect(h.jira.requests).toEqual([]);
  });
});
