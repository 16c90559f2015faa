import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  alive,
  createWorld,
  readPid,
  sharedTransport,
  transitioned,
  until,
  type World,
} from './__fixtures__/setup.js';
import { PipelineErrorCodes } from './errors.js';

// Timeouts, cancellation, restarts, one run per (pipeline, issue), and manual runs.

let world: World;
beforeEach(async () => {
  world = await createWorld(['PROJ-1', 'PROJ-2']);
  world.jira.addIssue({
    key: 'PROJ-1',
    status: 'Ready for Development',
    fields: { customfield_10001: world.remote },
  });
});
afterEach(async () => {
  await world.close();
});

const hangingBuild = (extra = '') => `pipeline:
  name: slow
  ${extra}
  triggers:
    - type: jira-issue
      status: Ready for Development
  stages:
    - name: checkout
      steps:
        - type: git-checkout
          repository: "{{ .issue.fields.customfield_10001 }}"
          branch: "feature/{{ .issue.key }}"
    - name: build
      steps:
        - type: build
          command: "mvn package"
`;

describe('timeouts', () => {
  it('a step timeout kills the step process group and fails the run', async () => {
    process.env.MVN_HANG_ON = 'test';
    // Long enough for the checkout and build steps before it on a loaded CI machine (the seed file
    // sets no per-step timeouts, so this one applies to every step).
    const host = await world.host({ stepTimeout: '4s' });
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    const completed = (await host.waitFor('PipelineCompleted', undefined, 15_000)).data;
    expect(completed).toMatchObject({
      outcome: 'failed',
      failedStage: 'build-test',
      failedStep: 'test',
      code: PipelineErrorCodes.STEP_TIMEOUT,
      reason: 'step "test" timed out after 4s',
    });
    const pid = readPid(join(world.standin, 'mvn.hung'))!;
    await until(() => !alive(pid), 3_000, 'the hung mvn to die');
    expect(host.emitted('StageCompleted').map((e) => e.data.outcome)).toEqual([
      'succeeded',
      'failed',
      'skipped',
      'skipped',
    ]);
  });

  it('the run timeout ends the run as failed with PipelineCompleted', async () => {
    process.env.KUBECTL_HANG_ON = 'rollout';
    const host = await world.host({ runTimeout: '1500ms' });
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    const completed = (await host.waitFor('PipelineCompleted', undefined, 15_000)).data;
    expect(completed).toMatchObject({
      outcome: 'failed',
      failedStage: 'deploy-dev',
      code: PipelineErrorCodes.RUN_TIMEOUT,
      reason: 'the run timed out after 1.5s',
    });
    await until(
      () => !alive(readPid(join(world.standin, 'kubectl.hung'))!),
      3_000,
      'the hung kubectl to die',
    );
    expect(host.emitted('DeploymentCompleted').map((e) => e.data.outcome)).toEqual(['failed']);
  });
});

describe('restarts', () => {
  it('a run interrupted by a stop is ended as failed "interrupted" at the next start, on the same store', async () => {
    process.env.MVN_HANG_ON = 'package';
    const transport = sharedTransport();
    const first = await world.host({}, { transport });
    await first.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    const pid = (await until(() => readPid(join(world.standin, 'mvn.hung')), 10_000, 'mvn to hang'))!;
    await first.close();
    expect(alive(pid)).toBe(false);
    const runs = await first.core.transport.kv('plugin.pipeline').keys('run/');
    expect(runs).toHaveLength(1);

    const second = await world.host({}, { transport });
    const completed = (await second.waitFor('PipelineCompleted', undefined, 10_000)).data;
    expect(completed).toMatchObject({
      outcome: 'failed',
      reason: 'interrupted',
      code: PipelineErrorCodes.INTERRUPTED,
      failedStage: 'build-test',
      failedStep: 'build',
    });
    const listed = (await second.webhook('pipeline', { method: 'GET', path: '/runs' })).body as any;
    expect(listed.runs[0]).toMatchObject({ status: 'failed', reason: 'interrupted' });
    expect(listed.runs[0].stages.map((s: any) => s.status)).toEqual([
      'succeeded',
      'failed',
      'skipped',
      'skipped',
    ]);
    const started = second.emitted('PipelineCompleted')[0]!;
    expect(started.causationid).toBeDefined();
  });
});

describe('trigger deliveries', () => {
  it('records one run per trigger event: a claim left by a process that died before recording is adopted', async () => {
    const file = world.file(
      'one.yaml',
      `pipeline:
  name: one
  triggers: [ { type: jira-issue, status: Ready for Development } ]
  stages: [ { name: s, steps: [ { type: build, command: "true" } ] } ]
`,
    );
    const host = await world.host({ pipelines: [file] });
    const id = '01a21a4f-0000-7000-8000-000000000001';
    await host.core.transport.kv('plugin.pipeline').set(`trigger/one/${id}`, 'orphan-run');
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote), { id });
    const done = await host.waitFor('PipelineCompleted', undefined, 10_000);
    expect(done.data).toMatchObject({ runId: 'orphan-run', outcome: 'succeeded' });
    const runs = (await host.webhook('pipeline', { method: 'GET', path: '/runs' })).body as any;
    expect(runs.runs.map((r: any) => r.id)).toEqual(['orphan-run']);
  });
});

describe('one run per pipeline and issue', () => {
  it('queues a second trigger for the same issue until the first run ends; other issues run at once', async () => {
    process.env.MVN_SLEEP = '0.3';
    world.jira.addIssue({
      key: 'PROJ-2',
      status: 'Ready for Development',
      fields: { customfield_10001: world.remote },
    });
    const host = await world.host({ pipelines: [world.file('q.yaml', hangingBuild())] });
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    await host.receive('IssueTransitioned', transitioned('PROJ-2', world.remote));
    await until(() => host.emitted('PipelineCompleted').length === 3, 15_000, 'three runs');
    const order = host
      .emitted()
      .filter((e) => e.type === 'PipelineStarted' || e.type === 'PipelineCompleted')
      .map(
        (e) =>
          `${e.type === 'PipelineStarted' ? 'start' : 'end'}:${(e.data as any).issueKey}:${(e.data as any).runId}`,
      );
    const proj1 = order.filter((o) => o.includes(':PROJ-1:'));
    const [firstRun, secondRun] = [...new Set(proj1.map((o) => o.split(':')[2]))];
    expect(proj1).toEqual([
      `start:PROJ-1:${firstRun}`,
      `end:PROJ-1:${firstRun}`,
      `start:PROJ-1:${secondRun}`,
      `end:PROJ-1:${secondRun}`,
    ]);
    // PROJ-2 started while the first PROJ-1 run was still going.
    expect(order.indexOf(order.find((o) => o.startsWith('start:PROJ-2'))!)).toBeLessThan(
      order.indexOf(`end:PROJ-1:${firstRun}`),
    );
    expect(host.emitted('PipelineCompleted').every((e) => e.data.outcome === 'succeeded')).toBe(true);
  });

  it('concurrency: replace cancels the running run (killing its processes) and runs the new one', async () => {
    process.env.MVN_HANG_ON = 'package';
    const host = await world.host({
      pipelines: [world.file('r.yaml', hangingBuild('concurrency: replace'))],
    });
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    const pid = (await until(() => readPid(join(world.standin, 'mvn.hung')), 10_000, 'mvn to hang'))!;
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    await until(() => host.emitted('PipelineCompleted').length === 2, 15_000, 'both runs to end');
    const [cancelled, replacement] = host.emitted('PipelineCompleted').map((e) => e.data);
    expect(cancelled).toMatchObject({
      outcome: 'cancelled',
      code: PipelineErrorCodes.CANCELLED,
      reason: `replaced by run ${replacement!.runId}`,
    });
    expect(replacement).toMatchObject({ outcome: 'succeeded' });
    expect(alive(pid)).toBe(false);
  });
});

describe('manual runs and event triggers', () => {
  it('POST /runs, PipelineRunRequested and the pipeline.run action start runs; .issue comes from the last transition', async () => {
    const host = await world.host();
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote, { toStatus: 'In Review' }));
    const reply = await host.webhook('pipeline', {
      method: 'POST',
      path: '/runs',
      body: { pipeline: 'feature-driven-deployment', issueKey: 'PROJ-1' },
    });
    expect(reply.status).toBe(202);
    const { runId } = reply.body as { runId: string };
    const done = await host.waitFor('PipelineCompleted', (e) => e.data.runId === runId, 20_000);
    expect(done.data.outcome).toBe('succeeded');
    const requested = host.emitted('PipelineRunRequested')[0]!;
    expect(requested.data).toEqual({
      pipeline: 'feature-driven-deployment',
      issueKey: 'PROJ-1',
      requestedBy: 'api',
    });
    expect(host.emitted('PipelineStarted')[0]!.causationid).toBe(requested.id);
    expect(host.emitted('PipelineStarted')[0]!.data.trigger).toBe('manual');

    // Same as `switchyard emit PipelineRunRequested --data '{"pipeline":…}'` (POST /events).
    await host.receive('PipelineRunRequested', { pipeline: 'feature-driven-deployment', issueKey: 'PROJ-1' });
    await until(() => host.emitted('PipelineCompleted').length === 2, 20_000, 'the emitted run');
    const viaAction = (await host.invoke('pipeline.run', {
      pipeline: 'feature-driven-deployment',
      issueKey: 'PROJ-1',
    })) as { runId: string };
    await host.waitFor('PipelineCompleted', (e) => e.data.runId === viaAction.runId, 20_000);
    expect(host.emitted('PipelineStarted')).toHaveLength(3);

    const bad = await host.webhook('pipeline', { method: 'POST', path: '/runs', body: { pipeline: 'nope' } });
    expect(bad).toMatchObject({ status: 404, body: { error: { code: PipelineErrorCodes.NOT_FOUND } } });
    expect((await host.webhook('pipeline', { method: 'POST', path: '/runs', body: '{' })).status).toBe(400);
    expect(
      (await host.webhook('pipeline', { method: 'GET', path: '/logs', query: { run: 'nope' } })).status,
    ).toBe(404);
  });

  it('type: event triggers with a condition; DeploymentCompleted issue keys become the run issue', async () => {
    const file = world.file(
      'on-event.yaml',
      `pipeline:
  name: after-deploy
  triggers:
    - type: event
      on: DeploymentCompleted
      if: data.outcome == "failed" && data.environment == "dev"
  stages:
    - name: report
      steps:
        - type: build
          command: "echo rollback {{ .data.service }} for {{ .issue.key }}"
`,
    );
    const host = await world.host({ pipelines: [file] });
    const deployed = {
      service: 'api',
      environment: 'dev',
      version: '1',
      namespace: 'dev',
      issueKeys: ['PROJ-1'],
    };
    await host.receive('DeploymentCompleted', { ...deployed, outcome: 'succeeded' });
    await host.receive('DeploymentCompleted', { ...deployed, outcome: 'failed' });
    const done = (await host.waitFor('PipelineCompleted', undefined, 10_000)).data;
    expect(done).toMatchObject({ pipeline: 'after-deploy', outcome: 'succeeded', issueKey: 'PROJ-1' });
    const log = await host.webhook('pipeline', {
      method: 'GET',
      path: '/logs',
      query: { run: done.runId, step: '1' },
    });
    expect(log.body).toContain('rollback api for PROJ-1');
    expect(host.emitted('PipelineStarted').map((e) => e.data.trigger)).toEqual(['event:DeploymentCompleted']);
  });
});
