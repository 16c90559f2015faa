import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorld, transitioned, type World } from './__fixtures__/setup.js';
import { PipelineErrorCodes } from './errors.js';

// A failing step fails the run: later stages are skipped (except `always: true` ones), and
// PipelineCompleted names the failed stage and step, the reason, the code and the output tail.

let world: World;
beforeEach(async () => {
  world = await createWorld();
});
afterEach(async () => {
  await world.close();
});

async function runSeed(key: string, env: Record<string, string> = {}) {
  Object.assign(process.env, env);
  world.jira.addIssue({ key, status: 'Ready for Development', fields: { customfield_10001: world.remote } });
  const host = await world.host();
  await host.receive('IssueTransitioned', transitioned(key, world.remote));
  const completed = await host.waitFor('PipelineCompleted', undefined, 20_000);
  const stages = host.emitted('StageCompleted').map((e) => `${e.data.stage}:${e.data.outcome}`);
  return { host, completed: completed.data, stages };
}

describe('failures at each stage', () => {
  it('checkout: a missing branch fails clearly; nothing else runs', async () => {
    const { completed, stages } = await runSeed('PROJ-404');
    expect(completed).toMatchObject({
      outcome: 'failed',
      failedStage: 'code-checkout',
      failedStep: 'git-checkout',
      code: PipelineErrorCodes.BRANCH_MISSING,
    });
    expect(completed.reason).toMatch(
      /branch "feature\/PROJ-404" does not exist in .*remote\.git; push it.*create: true/,
    );
    expect(stages).toEqual([
      'code-checkout:failed',
      'build-test:skipped',
      'deploy-dev:skipped',
      'update-jira:skipped',
    ]);
    expect(world.calls()).toEqual([]);
    expect(world.jira.issue('PROJ-404')!.status).toBe('Ready for Development');
  });

  it('build-test: a failing test command fails the run with the output tail', async () => {
    const { host, completed, stages } = await runSeed('PROJ-1', { MVN_FAIL_ON: 'test' });
    expect(completed).toMatchObject({
      outcome: 'failed',
      failedStage: 'build-test',
      failedStep: 'test',
      code: PipelineErrorCodes.COMMAND_FAILED,
    });
    expect(completed.reason).toBe('test step "test" failed: `mvn test` exited with code 1');
    expect(completed.tail).toContain('Tests run: 3, Failures: 1');
    expect(stages).toEqual([
      'code-checkout:succeeded',
      'build-test:failed',
      'deploy-dev:skipped',
      'update-jira:skipped',
    ]);
    expect(world.calls()).toEqual(['mvn clean package', 'mvn test']);
    expect(host.emitted('DeploymentCompleted')).toEqual([]);
  });

  it('deploy-dev: a failing apply emits DeploymentCompleted failed and fails the run', async () => {
    const { host, completed, stages } = await runSeed('PROJ-1', { KUBECTL_FAIL_ON: 'apply' });
    expect(completed).toMatchObject({
      outcome: 'failed',
      failedStage: 'deploy-dev',
      failedStep: 'k8s-deploy',
      code: PipelineErrorCodes.DEPLOY_FAILED,
    });
    expect(stages).toEqual([
      'code-checkout:succeeded',
      'build-test:succeeded',
      'deploy-dev:failed',
      'update-jira:skipped',
    ]);
    expect(host.emitted('DeploymentCompleted').map((e) => e.data)).toEqual([
      expect.objectContaining({ outcome: 'failed', namespace: 'dev-proj-1', issueKeys: ['PROJ-1'] }),
    ]);
    expect(world.jira.issue('PROJ-1')!.status).toBe('Ready for Development');
  });

  it('update-jira: a transition Jira refuses fails the last stage', async () => {
    world.jira.addIssue({ key: 'PROJ-1', status: 'Done', fields: { customfield_10001: world.remote } });
    const host = await world.host();
    await host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    const completed = (await host.waitFor('PipelineCompleted', undefined, 20_000)).data;
    expect(completed).toMatchObject({
      outcome: 'failed',
      failedStage: 'update-jira',
      failedStep: 'jira-update',
      code: PipelineErrorCodes.ACTION_FAILED,
    });
    expect(completed.reason).toMatch(
      /jira\.transition failed: .*SY_JIRA_TRANSITION_UNAVAILABLE|jira\.transition failed: .*In Development/,
    );
  });

  it('create: true makes a missing branch from the default branch; an always stage and a plugin action step run after a failure', async () => {
    const file = world.file(
      'notify.yaml',
      `pipeline:
  name: create-and-notify
  triggers:
    - type: jira-issue
      status: Ready for Development
  stages:
    - name: checkout
      steps:
        - type: git-checkout
          repository: "{{ .issue.fields.customfield_10001 }}"
          branch: "feature/{{ .issue.key }}"
          create: true
    - name: build
      steps:
        - type: build
          command: "test -f pom.xml && git rev-parse --abbrev-ref HEAD && exit 3"
    - name: never
      steps:
        - type: test
          command: "mvn test"
    - name: notify
      always: true
      steps:
        - type: jira.comment
          issue: "{{ .issue.key }}"
          body: "run {{ .run.id }} of {{ .pipeline.name }} finished"
`,
    );
    world.jira.addIssue({ key: 'PROJ-9', status: 'Ready for Development' });
    const host = await world.host({ pipelines: [file] });
    await host.receive('IssueTransitioned', transitioned('PROJ-9', world.remote));
    const completed = (await host.waitFor('PipelineCompleted', undefined, 20_000)).data;
    expect(completed).toMatchObject({ outcome: 'failed', failedStage: 'build', failedStep: 'build' });
    expect(completed.reason).toContain('exited with code 3');
    expect(completed.tail).toContain('feature/PROJ-9');
    expect(host.emitted('StageCompleted').map((e) => `${e.data.stage}:${e.data.outcome}`)).toEqual([
      'checkout:succeeded',
      'build:failed',
      'never:skipped',
      'notify:succeeded',
    ]);
    expect(JSON.stringify(world.jira.comments('PROJ-9')[0]?.body)).toContain(
      `run ${completed.runId} of create-and-notify finished`,
    );
  });

  it('refuses to start when jira-update is used but the jira plugin is not loaded', async () => {
    await expect(world.host({}, { jira: false })).rejects.toThrow(
      /step "jira-update" .* needs the action jira\.transition: load the jira plugin/,
    );
  });
});
