// The CLI against a running daemon, both as child processes of the built dist/cli.js — as a user or
// a CI job runs them. SIGHUP reload and SIGTERM drain are exercised on the real process.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
  type CliResult,
  cliEnv,
  ensureBuilt,
  type Running,
  runCli,
  runDaemon as startDaemon,
} from './cli-process.js';
import { baseConfig, SECRET, TOKEN, tempDir, until, writeConfig } from './helpers.js';

const baseEnv = cliEnv({ SY_TEST_TOKEN: TOKEN, SY_SECRET: SECRET });

const runDaemon = (config: string): Promise<Running> => startDaemon(config, baseEnv, 15_000);

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, { ...baseEnv, ...env });
}

const RULES = `
rules:
  - name: notify
    on: DeploymentCompleted
    if: data.environment == "production"
    do:
      - action: echo.say
        with: { text: "deployed {{ .data.service }}" }
  - name: slow
    on: EchoHeard
    do:
      - action: echo.slow
        with: { ms: 1500 }
`;

let dir: string;
let config: string;
let record: string;
let d: Running;

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir('sy-cli-');
  record = join(dir, 'calls.ndjson');
  writeFileSync(record, '');
  config = writeConfig(dir, baseConfig(RULES, { store: '{ kind: sqlite, path: ./data/sy.db }', record }));
  d = await runDaemon(config);
});

afterAll(async () => {
  if (d && d.child.exitCode === null) {
    d.child.kill('SIGKILL');
    await d.exit;
  }
});

const calls = () =>
  readFileSync(record, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { action: string; key: string });
const client = () => ['--url', d.url, '--token', TOKEN];

describe('switchyard CLI against a running daemon', () => {
  const data = JSON.stringify({
    service: 'api',
    environment: 'production',
    version: '1',
    outcome: 'succeeded',
    issueKeys: [],
  });
  let emitted: string;

  it('emit: exit 0 with the id after a 202; the rule runs', async () => {
    const r = await cli(['emit', 'DeploymentCompleted', '--data', data, '--subject', 'PROJ-7', ...client()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /^accepted DeploymentCompleted (\S+)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    emitted = m![1]!;
    await until(() => calls().some((c) => c.key === `${emitted}:rule:notify:0`));
  });

  it('emit: --data @file, --json, URL from SWITCHYARD_URL and token from the config', async () => {
    const file = join(dir, 'data.json');
    writeFileSync(file, data);
    const r = await cli(
      [
        'emit',
        'DeploymentCompleted',
        '--data',
        `@${file}`,
        '--id',
        'fixed-id-1',
        '--json',
        '--config',
        config,
      ],
      {
        SWITCHYARD_URL: d.url,
      },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ id: 'fixed-id-1', duplicate: false });
    const again = await cli([
      'emit',
      'DeploymentCompleted',
      '--data',
      data,
      '--id',
      'fixed-id-1',
      ...client(),
    ]);
    expect(again.stdout).toBe('already stored DeploymentCompleted fixed-id-1\n');
  });

  it('emit: exit 1 with the daemon’s reasons when the event is invalid, the token wrong or the daemon away', async () => {
    const invalid = await cli(['emit', 'DeploymentCompleted', '--data', '{"service":"api"}', ...client()]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('→ 400');
    expect(invalid.stderr).toContain('  - data.environment:');
    const wrong = await cli([
      'emit',
      'DeploymentCompleted',
      '--data',
      data,
      '--url',
      d.url,
      '--token',
      'wrong-token-wrong',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('→ 403: the bearer token is wrong');
    const away = await cli([
      'emit',
      'DeploymentCompleted',
      '--data',
      data,
      '--url',
      'http://127.0.0.1:1',
      '--token',
      TOKEN,
    ]);
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(
      /^error: cannot reach the daemon at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/,
    );
    expect(away.stderr).not.toContain('    at ');
    const badJson = await cli(['emit', 'DeploymentCompleted', '--data', '{nope', ...client()]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--data from --data is not valid JSON');
  });

  it('events and trace', async () => {
    const list = await cli(['events', '--type', 'DeploymentCompleted', '--json', ...client()]);
    expect(list.code).toBe(0);
    const events = JSON.parse(list.stdout) as Array<{ id: string }>;
    expect(events.map((e) => e.id)).toContain(emitted);
    const text = await cli(['events', '--subject', 'PROJ-7', ...client()]);
    expect(text.stdout).toContain(emitted);
    expect(text.stdout).not.toContain('\x1b[');
    await until(async () =>
      (await cli(['trace', emitted, ...client()])).stdout.includes('rule:notify succeeded'),
    );
    const trace = await cli(['trace', emitted, ...client()]);
    expect(trace.code).toBe(0);
    expect(trace.stdout).toContain(`DeploymentCompleted ${emitted} PROJ-7`);
    expect(trace.stdout).toContain('✓ rule:notify succeeded (1 attempt)');
    const missing = await cli(['trace', 'no-such-id', ...client()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('→ 404: no event with id "no-such-id"');
  });

  it('events --follow prints events as they arrive', async () => {
    const follow = spawn(
      process.execPath,
      [CLI, 'events', '--follow', '--type', 'DeploymentCompleted', '-n', '1', ...client()],
      {
        env: baseEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    follow.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await until(() => out.length > 0);
    const r = await cli(['emit', 'DeploymentCompleted', '--data', data, '--id', 'followed-1', ...client()]);
    expect(r.code).toBe(0);
    await until(() => out.includes('followed-1'));
    const exited = new Promise((done) => follow.on('exit', done));
    follow.kill('SIGINT');
    await exited;
  });

  it('dlq list/replay/drop', async () => {
    const list = await cli(['dlq', 'list', '--json', ...client()]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
    const usage = await cli(['dlq', 'replay', ...client()]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('name what to replay');
    const all = await cli(['dlq', 'replay', '--all', ...client()]);
    expect(all.stdout).toBe('replayed 0 dead letters\n');
    const drop = await cli(['dlq', 'drop', 'nope', ...client()]);
    expect(drop.code).toBe(1);
    expect(drop.stderr).toContain('404');
  });

  it('check, plugins and schema read the config without a daemon', async () => {
    const check = await cli(['check', '--config', config]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('→ rule notify if data.environment == "production" → echo.say');
    expect(check.stdout).not.toContain(SECRET);
    const json = JSON.parse((await cli(['check', '--json', '--config', config])).stdout);
    expect(json.ok).toBe(true);
    expect(json.rules.map((r: { name: string }) => r.name)).toEqual(['notify', 'slow']);
    const plugins = await cli(['plugins', '--config', config]);
    expect(plugins.stdout).toMatch(/^echo 1\.2\.3 {2}core >=0\.0\.0 \(compatible\)/);
    const schema = JSON.parse((await cli(['schema', '--config', config])).stdout);
    expect(schema.properties.plugins.properties.echo).toBeDefined();

    const bad = writeConfig(
      dir,
      'server: { prot: 1 }\nrules:\n  - { name: x, on: Nope, do: [ { action: echo.say } ] }\n',
      'bad.yaml',
    );
    const failed = await cli(['check', '--config', bad]);
    expect(failed.code).toBe(1);
    expect(failed.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/bad\.yaml:1:11: server\.prot: unknown key "prot"; did you mean "port"\?/),
      expect.stringMatching(/bad\.yaml:3:20: rules\[0\]\.on: unknown event type "Nope"/),
      expect.stringMatching(/bad\.yaml:3:42: rules\[0\]\.do\[0\]\.action: unknown action "echo\.say"/),
    ]);
  });

  it('--help everywhere; bad arguments exit 2', async () => {
    for (const args of [['--help'], ['emit', '--help'], ['dlq', 'replay', '--help'], ['run', '--help']]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: switchyard');
      expect(r.stdout).toContain('--config <file>');
    }
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    const noData = await cli(['emit', 'X']);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toContain("required option '-d, --data <json>' not specified");
  });

  it('SIGHUP reloads a valid config and rejects an invalid one, keeping the old rules', async () => {
    writeFileSync(
      config,
      baseConfig(
        `${RULES}  - name: added\n    on: DeploymentCompleted\n    do: [ { action: echo.say, with: { text: added } } ]\n`,
        { store: '{ kind: sqlite, path: ./data/sy.db }', record },
      ),
    );
    d.child.kill('SIGHUP');
    await until(() => d.lines.find((l) => l.includes('"config reloaded"')));
    const r = await cli(['emit', 'DeploymentCompleted', '--data', data, ...client()]);
    const id = /accepted DeploymentCompleted (\S+)/.exec(r.stdout)![1]!;
    await until(() => calls().some((c) => c.key === `${id}:rule:added:0`));

    writeFileSync(config, 'rules: [ { name: broken, on: Nope, do: [] } ]\n');
    d.child.kill('SIGHUP');
    const rejected = await until(() => d.lines.find((l) => l.includes('reload rejected')));
    expect(JSON.parse(rejected).problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/switchyard\.yaml:1:\d+: rules\[0\]\.do: a rule needs at least one action/),
      ]),
    );
    const after = await cli(['emit', 'DeploymentCompleted', '--data', data, ...client()]);
    const id2 = /accepted DeploymentCompleted (\S+)/.exec(after.stdout)![1]!;
    await until(() => calls().some((c) => c.key === `${id2}:rule:added:0`));
  });

  it('SIGTERM finishes the in-flight delivery, closes the store and exits 0; no secret was ever logged', async () => {
    const hook = await fetch(`${d.url}/webhooks/echo`, {
      method: 'POST',
      headers: { 'x-echo-signature': 'len=4' },
      body: 'slow',
    });
    expect(hook.status).toBe(202);
    await until(() => calls().some((c) => c.action === 'slow-start'));
    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(calls().filter((c) => c.action === 'slow-end')).toHaveLength(1);
    expect(d.lines.some((l) => l.includes('"stopped"'))).toBe(true);
    const all = d.lines.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(TOKEN);
    for (const line of d.lines) expect(() => JSON.parse(line)).not.toThrow();
  });
});
