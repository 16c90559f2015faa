import { adfProblem, FakeJira } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EMAIL, failure, type Harness, harness, TOKEN } from './__fixtures__/setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('jira.transition', () => {
  it('picks the transition by target status (case-insensitive), not by transition name, with the comment in the same POST', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-1', status: 'Ready for Development' });
    const result = await h.host.invoke('jira.transition', {
      issue: 'PROJ-1',
      to: 'in development',
      comment: 'Deployed to **dev**: see https://ci.example.com/run/7',
    });
    expect(result).toEqual({
      issues: [
        {
          issue: 'PROJ-1',
          outcome: 'transitioned',
          from: 'Ready for Development',
          to: 'In Development',
          transitionId: '21',
          transitionName: 'Start development',
          commented: true,
        },
      ],
    });
    expect(h.jira.issue('PROJ-1')!.status).toBe('In Development');
    const posts = h.jira.writes();
    expect(posts).toHaveLength(1);
    expect(posts[0]!.path).toBe('/rest/api/3/issue/PROJ-1/transitions');
    const body = posts[0]!.json as any;
    expect(body.transition).toEqual({ id: '21' });
    const comment = body.update.comment[0].add.body;
    expect(adfProblem(comment)).toBeUndefined();
    expect(h.jira.comments('PROJ-1')).toHaveLength(1);
    expect(posts[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`,
    );
  });

  it('is idempotent: already in the target status → success and no write', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-2', status: 'In Review' });
    const result = await h.host.invoke('jira.transition', {
      issue: 'PROJ-2',
      to: 'In Review',
      comment: 'again',
    });
    expect(result).toEqual({
      issues: [
        { issue: 'PROJ-2', outcome: 'unchanged', from: 'In Review', to: 'In Review', commented: false },
      ],
    });
    expect(h.jira.writes()).toEqual([]);
    expect(h.jira.comments('PROJ-2')).toEqual([]);
  });

  it('fails permanently when the status is not reachable, listing the reachable ones', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-3', status: 'To Do' });
    const error = await failure(h.host.invoke('jira.transition', { issue: 'PROJ-3', to: 'Done' }));
    expect(error.code).toBe('SY_JIRA_TRANSITION_UNAVAILABLE');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('PROJ-3 is in "To Do" and cannot reach status "Done"');
    expect(error.message).toContain('"Ready for Development" (transition "Mark ready", id 11)');
    expect(error.details.reachableStatuses).toEqual(['Ready for Development']);
    const byName = await failure(h.host.invoke('jira.transition', { issue: 'PROJ-3', to: 'Mark ready' }));
    expect(byName.message).toContain(
      '"Mark ready" is a transition name: use its target status to: "Ready for Development"',
    );
    expect(h.jira.writes()).toEqual([]);
  });

  it('treats a 400 caused by someone else moving the issue to the target meanwhile as success', async () => {
    h = await harness();
    const issue = h.jira.addIssue({ key: 'PROJ-9', status: 'In Development' });
    const racing = (r: { method: string; path: string }) => {
      if (r.method !== 'POST') return false;
      issue.status = 'In Review'; // a person clicked "Submit for review" first
      return true;
    };
    h.jira.inject(
      {
        kind: 'status',
        status: 400,
        body: { errorMessages: ["Transition id '31' is not valid for this issue."], errors: {} },
      },
      1,
      racing,
    );
    const result = (await h.host.invoke('jira.transition', { issue: 'PROJ-9', to: 'In Review' })) as any;
    expect(result.issues[0]).toMatchObject({ outcome: 'unchanged', to: 'In Review' });
    issue.status = 'In Development';
    h.jira.inject(
      { kind: 'status', status: 400, body: { errorMessages: ['Field x is required.'], errors: {} } },
      1,
      (r) => r.method === 'POST',
    );
    const error = await failure(h.host.invoke('jira.transition', { issue: 'PROJ-9', to: 'In Review' }));
    expect(error).toMatchObject({ code: 'SY_JIRA_REJECTED', retryable: false });
    expect(error.message).toContain('Field x is required.');
  });

  it('accepts a transitionId and a status id, and sends fields', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-4', status: 'In Development' });
    await h.host.invoke('jira.transition', {
      issue: 'PROJ-4',
      transitionId: 31,
      fields: { customfield_10020: 'v1.2' },
    });
    expect(h.jira.issue('PROJ-4')!.status).toBe('In Review');
    expect(h.jira.issue('PROJ-4')!.fields.customfield_10020).toBe('v1.2');
    await h.host.invoke('jira.transition', { issue: 'PROJ-4', to: '10003' }); // Done's status id
    expect(h.jira.issue('PROJ-4')!.status).toBe('Done');
    const wrong = await failure(h.host.invoke('jira.transition', { issue: 'PROJ-4', transitionId: '21' }));
    expect(wrong.code).toBe('SY_JIRA_TRANSITION_UNAVAILABLE');
    expect(wrong.message).toContain('"To Do" (transition "Reopen", id 61)');
  });

  it('handles a list of issues and reports each; a retry skips the issues already done', async () => {
    h = await harness();
    h.jira.addIssue({ key: 'PROJ-5', status: 'In Development' });
    h.jira.addIssue({ key: 'PROJ-6', status: 'In Review' });
    h.jira.addIssue({ key: 'PROJ-7', status: 'In Development' });
    h.jira.inject(
      { kind: 'status', status: 500, body: { errorMessages: ['boom'], errors: {} } },
      1,
      (r) => r.path.endsWith('PROJ-7/transitions') && r.method === 'POST',
    );
    const params = {
      issue: ['PROJ-5', 'PROJ-6', 'PROJ-7', 'PROJ-404'],
      to: 'In Review',
      comment: 'Ready for review',
    };
    const error = await failure(h.host.invoke('jira.transition', params, { idempotencyKey: 'evt-1:rule' }));
    expect(error.code).toBe('SY_JIRA_SOME_ISSUES_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.details.succeeded.map((r: any) => `${r.issue}:${r.outcome}`)).toEqual([
      'PROJ-5:transitioned',
      'PROJ-6:unchanged',
    ]);
    expect(error.details.failed.map((f: any) => `${f.issue}:${f.code}`)).toEqual([
      'PROJ-7:SY_JIRA_SERVER_ERROR',
      'PROJ-404:SY_JIRA_ISSUE_NOT_FOUND',
    ]);
    // The bus retries with the same key: PROJ-5 is not commented twice.
    h.jira.addIssue({ key: 'PROJ-404', status: 'In Development' });
    const again = (await h.host.invoke('jira.transition', params, { idempotencyKey: 'evt-1:rule' })) as any;
    expect(again.issues.map((r: any) => `${r.issue}:${r.outcome}`)).toEqual([
      'PROJ-5:transitioned',
      'PROJ-6:unchanged',
      'PROJ-7:transitioned',
      'PROJ-404:transitioned',
    ]);
    expect(h.jira.comments('PROJ-5')).toHaveLength(1);
    expect(h.jira.comments('PROJ-7')).toHaveLength(1);
  });

  it('uses Bearer auth and wiki markup on Server/Data Center (v2)', async () => {
    const fake = new FakeJira({ auth: { token: TOKEN } });
    h = await harness({ apiVersion: 2, email: undefined }, fake);
    h.jira.addIssue({ key: 'OPS-1', status: 'To Do' });
    await h.host.invoke('jira.transition', {
      issue: 'OPS-1',
      to: 'Ready for Development',
      comment: 'Use `make deploy`',
    });
    const post = h.jira.writes()[0]!;
    expect(post.path).toBe('/rest/api/2/issue/OPS-1/transitions');
    expect(post.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(h.jira.comments('OPS-1')[0]!.body).toBe('Use {{make deploy}}');
  });
});
