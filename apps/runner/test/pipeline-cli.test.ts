// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// `switchyard pipeline list|runs|logs|run` against a running daemon with the pipeline plugin, both as
// child processes of the built dist/cli.js. The pipelines check out a local Git remote and run the
// pipeline plugin's stand-in `mvn` (no Maven here); one of them fails its test step on purpose.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createGitRemote } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  type CliResult as Result,
  ROOT,
  type Running,
  runCli,
  runDaemon as startDaemon,
} from './cli-process.js';
import { bootDaemon, TOKEN, tempDir, until, writeConfig } from './helpers.js';

const PIPELINE_PLUGIN = resolve(ROOT, '../../plugins/pipeline');
const STANDIN_BIN = join(PIPELINE_PLUGIN, 'src', '__fixtures__', 'bin');

let dir: string;
let standin: string;
let d: Running;

const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    SY_TEST_TOKEN: TOKEN,
    STANDIN_DIR: standin,
    PATH: `${STANDIN_BIN}:${process.env.PATH}`,
    NO_COLOR: '1',
  };
  delete e.SWITCHYARD_URL;
  delete e.SWITCHYARD_TOKEN;
  for (const v of ['MVN_FAIL_ON', 'MVN_HANG_ON', 'MVN_SLEEP']) delete e[v];
  return e;
};

const runDaemon = (config: string): Promise<Running> => startDaemon(config, env());

/** Runs the CLI in a directory without a switchyard.yaml, so only --url/--token say where to go. */
function cli(args: string[]): Promise<Result> {
  return runCli(args, env(), standin);
}

/** Every CLI result of this file, to check that the token never shows up in any of them. */
const results: Result[] = [];
const client = () => ['--url', d.url, '--token', TOKEN];
async function sy(...args: string[]): Promise<Result> {
  const r = await cli([...args, ...client()]);
  results.push(r);
  return r;
}

interface RunSummary {
  id: string;
  pipeline: string;
  issueKey?: string;
  status: string;
  reason?: string;
  failedStep?: string;
  stages: Array<{
    name: string;
    status: string;
    steps: Array<{ number: number; name: string; status: string }>;
  }>;
}

async function runsJson(...filters: string[]): Promise<RunSummary[]> {
  const r = await sy('pipeline', 'runs', '--json', ...filters);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { runs: RunSummary[] }).runs;
}

async function finished(runId: string): Promise<RunSummary> {
  return until(async () => {
    const found = (await runsJson('-n', '500')).find((r) => r.id === runId);
    return found && !['queued', 'running'].includes(found.status) ? found : undefined;
  }, 30_000);
}

const pipelineFile = (remote: string) => `
pipeline:
  name: deliver
  description: check out the issue's branch, build and test it
  triggers:
    - type: manual
  stages:
    - name: checkout
      steps:
        - type: git-checkout
          repository: "${remote}"
          branch: "feature/{{ .issue.key }}"
    - name: build-test
      steps:
        - type: build
          name: package
          command: "mvn clean package && cat {{ .issue.key }}.txt"
        - type: test
          command: "mvn test"
`;

// Same shape, but the stand-in mvn fails the test goal; the step also prints the daemon's API token
// (a careless script), which must come back masked.
const brokenFile = (remote: string) => `
pipeline:
  name: broken
  triggers:
    - type: manual
  stages:
    - name: checkout
      steps:
        - type: git-checkout
          repository: "${remote}"
          branch: "feature/{{ .issue.key }}"
    - name: build-test
      steps:
        - type: test
          command: "echo \\"token is $SY_TEST_TOKEN\\"; mvn test"
          env: { MVN_FAIL_ON: test }
`;

beforeAll(async () => {
  // The daemon loads @switchyard/plugin-pipeline from its dist/ (turbo builds it before `test`).
  ensureBuilt([PIPELINE_PLUGIN]);
  dir = tempDir('sy-pipeline-cli-');
  const remote = createGitRemote(dir, ['PROJ-1', 'PROJ-2']);
  standin = join(dir, 'standin');
  mkdirSync(standin);
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines', 'deliver.yaml'), pipelineFile(remote));
  writeFileSync(join(dir, 'pipelines', 'broken.yaml'), brokenFile(remote));
  const config = writeConfig(
    dir,
    [
      'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TEST_TOKEN}, shutdownTimeout: 3s }',
      'store: { kind: sqlite, path: ./data/sy.db }',
      'plugins:',
      `  pipeline: { options: { workdir: ${JSON.stringify(join(dir, 'work'))}, killGrace: 300ms } }`,
      'pipelines: [ ./pipelines/deliver.yaml, ./pipelines/broken.yaml ]',
      'log: { level: info }',
    ].join('\n'),
  );
  d = await runDaemon(config);
}, 60_000);

afterAll(async () => {
  if (d && d.child.exitCode === null) {
    d.child.kill('SIGTERM');
    await d.exit;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('switchyard pipeline against a running daemon', () => {
  let okRun: string;
  let badRun: string;

  it('pipeline list: each pipeline with its file and stages; --json has the plugin’s full answer', async () => {
    const r = await sy('pipeline', 'list');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const deliver = lines.findIndex((l) => l.startsWith('deliver  '));
    expect(deliver).toBeGreaterThanOrEqual(0);
    expect(lines[deliver]).toContain(join(dir, 'pipelines', 'deliver.yaml'));
    expect(lines[deliver + 1]).toBe('    checkout → build-test');
    expect(r.stdout).toMatch(/^broken {2}/m);

    const json = await sy('pipeline', 'list', '--json');
    expect(json.code).toBe(0);
    const { pipelines } = JSON.parse(json.stdout) as {
      pipelines: Array<{ name: string; stages: Array<{ name: string; steps: Array<{ name: string }> }> }>;
    };
    expect(pipelines.map((p) => p.name).sort()).toEqual(['broken', 'deliver']);
    const p = pipelines.find((x) => x.name === 'deliver')!;
    expect(p.stages.map((s) => [s.name, s.steps.map((step) => step.name)])).toEqual([
      ['checkout', ['git-checkout']],
      ['build-test', ['package', 'test']],
    ]);
  });

  it('pipeline run <name> --issue: starts a run and prints its id; it succeeds', async () => {
    const r = await sy('pipeline', 'run', 'deliver', '--issue', 'PROJ-1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /^started run (\S+) of deliver for PROJ-1\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    okRun = m![1]!;
    expect(okRun).not.toBe('undefined');
    const run = await finished(okRun);
    expect(run).toMatchObject({ pipeline: 'deliver', issueKey: 'PROJ-1', status: 'succeeded' });
    expect(run.stages.flatMap((s) => s.steps.map((step) => step.status))).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
  });

  it('pipeline run --json: the run id as JSON; a failing step fails the run', async () => {
    const r = await sy('pipeline', 'run', 'broken', '--issue', 'PROJ-2', '--json');
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { runId: string };
    expect(body.runId).toMatch(/\S/);
    badRun = body.runId;
    const run = await finished(badRun);
    expect(run).toMatchObject({ pipeline: 'broken', issueKey: 'PROJ-2', status: 'failed' });
    expect(run.reason).toContain('`echo "token is $SY_TEST_TOKEN"; mvn test` exited with code 1');
  });

  it('pipeline runs: newest first with pipeline, issue and status; filters by pipeline and issue', async () => {
    const r = await sy('pipeline', 'runs');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${badRun} {2}broken {2}PROJ-2 {2}failed {2}.*exited with code 1`));
    expect(lines[1]).toBe(`${okRun}  deliver  PROJ-1  succeeded`);

    const deliver = await sy('pipeline', 'runs', '--pipeline', 'deliver');
    expect(deliver.stdout).toBe(`${okRun}  deliver  PROJ-1  succeeded\n`);
    expect((await runsJson('--issue', 'PROJ-2')).map((x) => x.id)).toEqual([badRun]);
    expect((await runsJson('-n', '1')).map((x) => x.id)).toEqual([badRun]);
    const none = await sy('pipeline', 'runs', '--issue', 'PROJ-999');
    expect(none).toMatchObject({ code: 0, stdout: 'no runs\n' });
  });

  it('pipeline logs <run>: the output of every step; --step one step; --json parses', async () => {
    const r = await sy('pipeline', 'logs', okRun);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('==> step 1 checkout/git-checkout (git-checkout): succeeded <==');
    expect(r.stdout).toContain('==> step 2 build-test/package (build): succeeded <==');
    expect(r.stdout).toContain('[INFO] Scanning for projects... (clean package)');
    // The checked-out feature branch's file, printed by the build step.
    expect(r.stdout).toMatch(/^PROJ-1$/m);
    expect(r.stdout).toContain('==> step 3 build-test/test (test): succeeded <==');
    expect(r.stdout).toContain('[INFO] BUILD SUCCESS');
    expect(r.stdout.endsWith('\n\n')).toBe(false);

    const step = await sy('pipeline', 'logs', okRun, '--step', '3');
    expect(step.code).toBe(0);
    expect(step.stdout).toContain('[INFO] Scanning for projects... (test)');
    expect(step.stdout).not.toContain('(clean package)');
    const byName = await sy('pipeline', 'logs', okRun, '--step', 'package');
    expect(byName.stdout).toContain('(clean package)');

    const json = await sy('pipeline', 'logs', okRun, '--step', '3', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ run: okRun, step: '3', log: step.stdout });

    const failed = await sy('pipeline', 'logs', badRun);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toContain('==> step 2 build-test/test (test): failed <==');
    expect(failed.stdout).toContain('[ERROR] Tests run: 3, Failures: 1');
    expect(failed.stdout).toContain('[INFO] BUILD FAILURE');
    expect(failed.stdout).toMatch(/^token is \S+$/m);
  });

  it('errors: unknown pipeline, run or step, a bad issue key — exit 1 with the plugin’s reason', async () => {
    const pipeline = await sy('pipeline', 'run', 'nope', '--issue', 'PROJ-1');
    expect(pipeline.code).toBe(1);
    expect(pipeline.stdout).toBe('');
    expect(pipeline.stderr).toContain('→ 404: no pipeline named "nope"; loaded: ');
    expect(pipeline.stderr).toContain('[SY_PIPELINE_');
    expect(pipeline.stderr).not.toContain('    at ');

    const runs = await sy('pipeline', 'runs', '--pipeline', 'nope');
    expect(runs.code).toBe(1);
    expect(runs.stderr).toContain('→ 404: no pipeline named "nope"');

    const run = await sy('pipeline', 'logs', 'no-such-run');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('→ 404: no run no-such-run');

    const step = await sy('pipeline', 'logs', okRun, '--step', '9');
    expect(step.code).toBe(1);
    expect(step.stderr).toContain(`run ${okRun} has no step 9 (steps: 1 git-checkout, 2 package, 3 test)`);

    const issue = await sy('pipeline', 'run', 'deliver', '--issue', 'not an issue');
    expect(issue.code).toBe(1);
    expect(issue.stderr).toContain('→ 400: "issueKey" must be an issue key such as PROJ-123');

    const limit = await sy('pipeline', 'runs', '-n', '501');
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('expected a number from 1 to 500');

    const json = await sy('pipeline', 'logs', 'no-such-run', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      error: {
        code: 'SY_RUNNER_REQUEST_FAILED',
        message: 'GET /webhooks/pipeline/logs → 404: no run no-such-run [SY_PIPELINE_NOT_FOUND]',
      },
    });
  });

  it('a wrong or missing token is refused for every pipeline command (exit 1) and nothing starts', async () => {
    const before = (await runsJson('-n', '500')).length;
    const wrongToken = 'wrong-token-0123456789';
    // A client config that names the daemon but has no token.
    const noToken = writeConfig(
      dir,
      `server: { host: 127.0.0.1, port: ${new URL(d.url).port} }\n`,
      'client-without-token.yaml',
    );
    for (const args of [
      ['pipeline', 'list'],
      ['pipeline', 'runs'],
      ['pipeline', 'logs', okRun],
      ['pipeline', 'run', 'deliver', '--issue', 'PROJ-1'],
    ]) {
      const wrong = await cli([...args, '--url', d.url, '--token', wrongToken]);
      results.push(wrong);
      expect(wrong.code, args.join(' ')).toBe(1);
      expect(wrong.stdout).toBe('');
      expect(wrong.stderr).toContain('→ 403: the bearer token is wrong');
      expect(wrong.stderr).not.toContain(wrongToken);
      const missing = await cli([...args, '--config', noToken]);
      results.push(missing);
      expect(missing.code, args.join(' ')).toBe(1);
      expect(missing.stdout).toBe('');
      expect(missing.stderr).toContain('→ 401: missing bearer token');
    }
    expect((await runsJson('-n', '500')).length).toBe(before);
  });

  it('a daemon without the pipeline plugin: a message that says so, exit 1', async () => {
    const other = await bootDaemon(
      'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TEST_TOKEN} }\nstore: { kind: memory }\n',
    );
    try {
      for (const args of [
        ['pipeline', 'list'],
        ['pipeline', 'run', 'deliver'],
      ]) {
        const r = await cli([...args, '--url', other.daemon.url, '--token', TOKEN]);
        results.push(r);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`the daemon at ${other.daemon.url} has no pipeline plugin loaded`);
        expect(r.stderr).toContain('add "pipeline:" under plugins:');
      }
    } finally {
      await other.daemon.stop();
    }
  });

  it('the token never appears in any output, daemon log included', () => {
    expect(results.length).toBeGreaterThan(20);
    for (const r of results) {
      expect(r.stdout).not.toContain(TOKEN);
      expect(r.stderr).not.toContain(TOKEN);
    }
    expect(d.lines.join('\n')).not.toContain(TOKEN);
  });
});
