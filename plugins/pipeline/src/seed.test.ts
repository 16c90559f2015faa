import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorld, SEED, type World } from './__fixtures__/setup.js';

// The seed file, verbatim, end to end: a Jira webhook moves PROJ-1 to "Ready for Development"; the
// pipeline clones the (local bare) repository, builds and tests with the stand-in mvn, deploys
// with the stand-in kubectl and moves the issue to "In Development" through the real Jira plugin.

let world: World;
beforeEach(async () => {
  world = await createWorld();
});
afterEach(async () => {
  await world.close();
});

describe('feature-driven-deployment (the seed file, unchanged)', () => {
  it('runs checkout, build, test, deploy and Jira update from a Jira transition, all in one causal chain', async () => {
    world.jira.addIssue({ key: 'PROJ-1', status: 'To Do', fields: { customfield_10001: world.remote } });
    const host = await world.host();
    const payload = world.jira.webhookPayload({ issueKey: 'PROJ-1', to: 'Ready for Development' });
    const reply = await host.webhook('jira', { body: payload });
    expect(reply.status).toBeLessThan(300);

    const completed = await host.waitFor('PipelineCompleted', undefined, 20_000);
    expect(completed.data).toMatchObject({
      pipeline: 'feature-driven-deployment',
      outcome: 'succeeded',
      issueKey: 'PROJ-1',
    });

    // What ran, in order, with which arguments.
    const calls = world.calls();
    expect(calls).toEqual([
      'mvn clean package',
      'mvn test',
      'kubectl get namespace dev-proj-1',
      'kubectl create namespace dev-proj-1',
      'kubectl apply -f k8s/dev/ -n dev-proj-1 -o name',
      'kubectl rollout status deployment.apps/feature-app -n dev-proj-1 --timeout=300s',
    ]);

    // Jira: moved on and commented, by the real plugin against the fake.
    expect(world.jira.issue('PROJ-1')!.status).toBe('In Development');
    expect(JSON.stringify(world.jira.comments('PROJ-1')[0]?.body)).toContain(
      'Deployment to dev environment completed',
    );

    // Events: one chain from the IssueTransitioned, each caused by the right event.
    const root = host.emitted('IssueTransitioned')[0]!;
    const started = host.emitted('PipelineStarted')[0]!;
    expect(started.causationid).toBe(root.id);
    expect(started.data).toMatchObject({ trigger: 'jira-issue', issueKey: 'PROJ-1' });
    const chain = ['PipelineStarted', 'StageCompleted', 'DeploymentCompleted', 'PipelineCompleted'].flatMap(
      (t) => host.emitted(t),
    );
    for (const e of chain) expect(e.correlationid).toBe(root.correlationid);
    for (const e of chain.filter((x) => x.type !== 'PipelineStarted')) expect(e.causationid).toBe(started.id);
    expect(host.emitted('StageCompleted').map((e) => [e.data.stage, e.data.outcome])).toEqual([
      ['code-checkout', 'succeeded'],
      ['build-test', 'succeeded'],
      ['deploy-dev', 'succeeded'],
      ['update-jira', 'succeeded'],
    ]);
    const deployed = host.emitted('DeploymentCompleted')[0]!.data;
    expect(deployed).toMatchObject({
      service: 'feature-driven-deployment',
      environment: 'dev',
      outcome: 'succeeded',
      namespace: 'dev-proj-1',
      issueKeys: ['PROJ-1'],
    });
    expect(deployed.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(deployed.version).toBe(deployed.commit!.slice(0, 12));

    // Operator routes: pipelines, runs, logs; the runner requires its API token for each.
    expect(
      host.core.host
        .routes()
        .filter((r) => r.plugin === 'pipeline')
        .map((r) => `${r.method} ${r.fullPath} ${r.auth}`),
    ).toEqual([
      'GET /webhooks/pipeline/pipelines token',
      'GET /webhooks/pipeline/runs token',
      'GET /webhooks/pipeline/logs token',
      'POST /webhooks/pipeline/runs token',
    ]);
    const list = await host.webhook('pipeline', { method: 'GET', path: '/pipelines' });
    expect(list.body).toMatchObject({
      pipelines: [
        {
          name: 'feature-driven-deployment',
          file: SEED,
          triggers: [{ type: 'jira-issue', status: ['Ready for Development'], project: ['PROJ'] }],
          stages: [
            { name: 'code-checkout' },
            { name: 'build-test' },
            { name: 'deploy-dev' },
            { name: 'update-jira' },
          ],
        },
      ],
    });
    const runs = (
      await host.webhook('pipeline', { method: 'GET', path: '/runs', query: { issue: 'PROJ-1' } })
    ).body as any;
    expect(runs.runs).toHaveLength(1);
    const run = runs.runs[0];
    expect(run).toMatchObject({
      id: completed.data.runId,
      status: 'succeeded',
      issueKey: 'PROJ-1',
      trigger: { kind: 'jira-issue' },
    });
    expect(run.stages[1].steps.map((s: any) => [s.name, s.status])).toEqual([
      ['build', 'succeeded'],
      ['test', 'succeeded'],
    ]);
    expect(run.stages[1].steps[0].tail).toContain('BUILD SUCCESS');
    const log = await host.webhook('pipeline', {
      method: 'GET',
      path: '/logs',
      query: { run: run.id, step: '2' },
    });
    expect(log.headers?.['content-type']).toMatch(/text\/plain/);
    expect(log.body).toContain('$ mvn clean package');
    expect(log.body).toContain('[INFO] BUILD SUCCESS');
    const all = (await host.webhook('pipeline', { method: 'GET', path: '/logs', query: { run: run.id } }))
      .body as string;
    expect(all).toContain('==> step 1 code-checkout/git-checkout (git-checkout): succeeded <==');
    expect(all).toContain('checked out feature/PROJ-1');
    // The workspace is removed after the run; the logs stay.
    expect(existsSync(run.workspace)).toBe(false);
    expect(readFileSync(`${run.logDir}/04-deploy-dev-k8s-deploy.log`, 'utf8')).toContain(
      'namespace dev-proj-1 not found; creating it',
    );
  });

  it('ignores transitions to other statuses and other projects', async () => {
    const host = await world.host();
    const base = {
      issueKey: 'OTHER-1',
      issueId: '1',
      projectKey: 'OTHER',
      summary: 's',
      issueType: 'Story',
      fromStatus: 'To Do',
    };
    await host.receive('IssueTransitioned', {
      ...base,
      toStatus: 'Ready for Development',
      transitionedBy: {},
      labels: [],
      url: 'u',
      fields: {},
    });
    await host.receive('IssueTransitioned', {
      ...base,
      issueKey: 'PROJ-2',
      projectKey: 'PROJ',
      toStatus: 'Done',
      transitionedBy: {},
      labels: [],
      url: 'u',
      fields: {},
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(host.emitted('PipelineStarted')).toEqual([]);
  });
});
