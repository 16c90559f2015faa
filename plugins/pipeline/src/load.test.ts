import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SEED } from './__fixtures__/setup.js';
import { parseDuration } from './duration.js';
import { loadPipelines } from './load.js';
import { PipelineOptionsSchema } from './options.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-pipeline-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(text: string, name = 'p.yaml'): string[] {
  return loadPipelines([file(name, text)]).problems.map((p) => p.message);
}

const valid = (steps: string) => `pipeline:
  name: x
  stages:
    - name: s
      steps:
${steps}`;

describe('loading pipeline files', () => {
  it('loads the seed file unchanged: triggers, stages, steps and templates', () => {
    const { pipelines, problems } = loadPipelines([SEED]);
    expect(problems).toEqual([]);
    const [p] = pipelines;
    expect(p!.name).toBe('feature-driven-deployment');
    expect(p!.triggers).toEqual([
      {
        type: 'jira-issue',
        event: 'issue-transition',
        statuses: ['Ready for Development'],
        projects: ['PROJ'],
      },
    ]);
    expect(p!.stages.map((s) => [s.name, s.steps.map((x) => `${x.number}:${x.type}`)])).toEqual([
      ['code-checkout', ['1:git-checkout']],
      ['build-test', ['2:build', '3:test']],
      ['deploy-dev', ['4:k8s-deploy']],
      ['update-jira', ['5:jira-update']],
    ]);
    const scope = { issue: { key: 'PROJ-7', fields: { customfield_10001: '/srv/git/app.git' } } };
    expect(p!.stages[0]!.steps[0]!.params(scope)).toEqual({
      repository: '/srv/git/app.git',
      branch: 'feature/PROJ-7',
    });
    expect(p!.stages[2]!.steps[0]!.params(scope)).toEqual({ manifest: 'k8s/dev/', namespace: 'dev-proj-7' });
    expect(p!.stages[0]!.steps[0]!.location).toMatch(/feature-driven-deployment\.yaml:11:11$/);
  });

  it('reports an unknown step type at its line and column, with a suggestion', () => {
    expect(problemsOf(valid('        - type: bild\n          command: make\n'))).toEqual([
      expect.stringMatching(
        /p\.yaml:6:17: unknown step type "bild"; did you mean "build"\?.*\[SY_PIPELINE_STEP_UNKNOWN\]$/,
      ),
    ]);
  });

  it('reports a bad template at the column inside the string', () => {
    const [message] = problemsOf(
      valid('        - type: build\n          command: "mvn -Dx={{ .issue.key | lowr }}"\n'),
    );
    expect(message).toMatch(
      /^.*p\.yaml:7:45: .*unknown filter or function "lowr".*\[SY_PIPELINE_TEMPLATE_INVALID\]$/s,
    );
  });

  it('reports a missing field, an unknown field and a bad value', () => {
    const messages = problemsOf(
      valid(
        '        - type: git-checkout\n          branch: main\n          depht: 1\n        - type: build\n          command: make\n          timeout: soon\n',
      ),
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /p\.yaml:8:11: unknown field "depht" in git-checkout step; did you mean "depth"\?/,
      ),
      expect.stringMatching(
        /p\.yaml:6:11: git-checkout step needs "repository".*\[SY_PIPELINE_FIELD_MISSING\]/,
      ),
      expect.stringMatching(/p\.yaml:11:20: "timeout" of step .* must be a duration/),
    ]);
  });

  it('reports an unknown trigger type, a bad condition and a jira-update without status or comment', () => {
    const messages = problemsOf(`pipeline:
  name: x
  triggers:
    - type: jira-issu
    - type: event
      on: DeploymentCompleted
      if: data.outcome = "failed"
  stages:
    - name: s
      steps:
        - type: jira-update
`);
    expect(messages).toEqual([
      expect.stringMatching(
        /p\.yaml:4:13: unknown trigger type "jira-issu"; did you mean "jira-issue"\?.*\[SY_PIPELINE_TRIGGER_UNKNOWN\]/,
      ),
      expect.stringMatching(/p\.yaml:7:\d+: .*condition.*\[SY_PIPELINE_TEMPLATE_INVALID\]/s),
      expect.stringMatching(/p\.yaml:11:11: jira-update step needs one of "status" or "comment"/),
    ]);
  });

  it('reports YAML syntax errors, unreadable files and duplicate names across files', () => {
    expect(problemsOf('pipeline:\n  name: [x\n', 'bad.yaml')).toEqual([
      expect.stringMatching(/bad\.yaml:\d+:\d+: YAML: .*\[SY_PIPELINE_FILE_SYNTAX\]/),
    ]);
    const missing = join(dir, 'missing.yaml');
    expect(loadPipelines([missing]).problems.map((p) => p.message)).toEqual([
      `${missing}:1:1: cannot read the pipeline file: does not exist [SY_PIPELINE_FILE_UNREADABLE]`,
    ]);
    const a = file('a.yaml', valid('        - type: build\n          command: make\n'));
    const b = file('b.yaml', `\n${valid('        - type: test\n          command: make test\n')}`);
    const result = loadPipelines([a, b]);
    expect(result.pipelines.map((p) => p.file)).toEqual([a]);
    expect(result.problems.map((p) => p.message)).toEqual([
      `${b}:3:9: pipeline "x" is already defined at ${a}:2:9; pipeline names must be unique [SY_PIPELINE_DUPLICATE_NAME]`,
    ]);
  });

  it('accepts plugin action steps with their fields as params', () => {
    const { pipelines, problems } = loadPipelines([
      file(
        'action.yaml',
        valid(
          '        - type: slack.post\n          text: "deployed {{ .issue.key }}"\n          timeout: 90s\n',
        ),
      ),
    ]);
    expect(problems).toEqual([]);
    const step = pipelines[0]!.stages[0]!.steps[0]!;
    expect(step).toMatchObject({ type: 'slack.post', action: 'slack.post', timeoutMs: 90_000 });
    expect(step.params({ issue: { key: 'PROJ-1' } })).toEqual({ text: 'deployed PROJ-1' });
  });
});

describe('options', () => {
  it('validates the files inside the schema: problems carry the pipelines index and file:line:col', () => {
    const bad = file('opt-bad.yaml', valid('        - type: nope\n'));
    const parsed = PipelineOptionsSchema.safeParse({ pipelines: [SEED, bad] });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues).toEqual([
      expect.objectContaining({
        path: ['pipelines', 1],
        message: expect.stringMatching(/^.*opt-bad\.yaml:6:17: unknown step type "nope"/),
      }),
    ]);
  });

  it('refuses a lease shorter than 3 × (killGrace + 1s), naming both settings', () => {
    const parsed = PipelineOptionsSchema.safeParse({ pipelines: [SEED], leaseTtl: '10s', killGrace: '5s' });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues).toEqual([
      expect.objectContaining({
        path: ['leaseTtl'],
        message:
          'leaseTtl must be at least 3 × (killGrace + 1s) = 18s with killGrace 5s: raise leaseTtl or lower killGrace',
      }),
    ]);
    expect(
      PipelineOptionsSchema.safeParse({ pipelines: [SEED], leaseTtl: '18s', killGrace: '5s' }).success,
    ).toBe(true);
  });

  it('applies defaults and parses durations; globs pick up files', () => {
    file(
      'glob-one.pipeline.yaml',
      valid('        - type: build\n          command: make\n').replace('name: x', 'name: g1'),
    );
    file(
      'glob-two.pipeline.yaml',
      valid('        - type: build\n          command: make\n').replace('name: x', 'name: g2'),
    );
    const parsed = PipelineOptionsSchema.parse({
      pipelines: [join(dir, '*.pipeline.yaml')],
      stepTimeout: '90s',
    });
    expect(parsed.definitions.map((d) => d.name)).toEqual(['g1', 'g2']);
    expect(parsed).toMatchObject({
      shell: '/bin/sh',
      stepTimeout: 90_000,
      runTimeout: 7_200_000,
      kubectl: 'kubectl',
      git: 'git',
    });
    expect(parsed.workdir).toBe(join(process.cwd(), '.switchyard/pipelines'));
    expect(PipelineOptionsSchema.safeParse({ runTimeout: 'later' }).error?.issues[0]?.message).toMatch(
      /runTimeout must be a duration/,
    );
    expect([parseDuration('1h30m'), parseDuration('250ms'), parseDuration(5), parseDuration('5x')]).toEqual([
      5_400_000,
      250,
      5,
      undefined,
    ]);
  });
});
