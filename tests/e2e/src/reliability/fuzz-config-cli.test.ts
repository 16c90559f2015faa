// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} and ${file:…} are config syntax here
// Bad input to the config loader and the CLI, property-based (fast-check).
// - loadConfig on generated YAML (random configs built from the schema's vocabulary, a valid file
//   with characters inserted/deleted, token soup): it returns, or throws a ConfigError whose every
//   problem has the file, a line and a column (file:line:col) and a code — nothing else.
// - `switchyard <generated args>` as a child process (the runner exposes no in-process program):
//   exit 0, 1 or 2, never a signal or a hang, a reason on failure, no stack trace, and no network
//   beyond a closed loopback port.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblem, isConfigError, loadConfig } from '@switchyard/runner';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, mapLimit, runCli, tempDir } from '../support/daemon.js';

const RUNS = Number(process.env.SY_FUZZ_RUNS ?? 1000);
const CLI_RUNS = Number(process.env.SY_FUZZ_CLI_RUNS ?? 400);
const counts = { config: 0, cli: 0 };

const dir = tempDir('sy-fuzz-config-');
writeFileSync(join(dir, 'secret.txt'), 'file-secret-value-0123\n');
writeFileSync(join(dir, 'empty.txt'), '');
const file = join(dir, 'switchyard.yaml');
const env = { PRESENT: 'env-secret-value-0123', PORT: '8081', EMPTY: '' };

/** loadConfig either succeeds or throws a ConfigError with places; anything else fails the case. */
function checkLoad(text: string): void {
  counts.config++;
  writeFileSync(file, text);
  try {
    loadConfig(file, { env, cwd: dir });
  } catch (error) {
    if (!isConfigError(error) || (error as Error).name !== 'ConfigError') {
      throw new Error(
        `loadConfig threw ${(error as Error)?.name}: ${(error as Error)?.message}\n--- input:\n${text}`,
      );
    }
    expect(error.problems.length).toBeGreaterThan(0);
    for (const p of error.problems) {
      const place = `${JSON.stringify(p)}\n--- input:\n${text}`;
      if (
        p.file !== 'switchyard.yaml' ||
        !(p.line >= 1) ||
        !(p.column >= 1) ||
        !p.message ||
        !/^SY_CONFIG_/.test(p.code)
      ) {
        throw new Error(`problem without file:line:col, message or code: ${place}`);
      }
      expect(formatProblem(p)).toMatch(/^switchyard\.yaml:\d+:\d+: /);
      // Resolved secret values never appear in a problem.
      if (p.message.includes(env.PRESENT) || p.message.includes('file-secret-value-0123')) {
        throw new Error(`secret in a config problem: ${place}`);
      }
    }
  }
}

const VALID = [
  'server: { host: 127.0.0.1, port: ${env:PORT}, token: ${env:PRESENT}, bodyLimit: 64kb, shutdownTimeout: 5s }',
  'store: { kind: sqlite, path: ./data/switchyard.db, synchronous: full, retention: { maxAge: 30d } }',
  'plugins:',
  '  jira: { options: { baseUrl: "https://jira.example.com", token: ${file:secret.txt} } }',
  '  slack:',
  '    options:',
  '      webhookUrl: https://hooks.example.com/x',
  'rules:',
  '  - name: notify',
  '    on: [DeploymentCompleted]',
  '    if: data.environment == "production"',
  '    maxAttempts: 3',
  '    do:',
  '      - action: slack.post',
  '        with: { text: "{{ .data.service }} is live" }',
  'pipelines: [ ./pipelines/*.yaml ]',
  'log: { level: info }',
].join('\n');

const refs = fc.constantFrom(
  '${env:PRESENT}',
  '${env:MISSING}',
  '${env:EMPTY}',
  '${env:}',
  '${env:a-b}',
  '${file:secret.txt}',
  '${file:empty.txt}',
  '${file:missing.txt}',
  '${file:}',
  '${file:.}',
  '${nope:X}',
  '${env:PRESENT',
  'pre-${env:PRESENT}-post',
);
const scalar = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  refs,
  fc.constantFrom(
    '30s',
    '5m',
    '1mb',
    '0',
    '-1',
    '1e9',
    'sqlite',
    'memory',
    'nats',
    'info',
    '127.0.0.1',
    '0.0.0.0',
  ),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 3 }),
  ),
})).v;
const section = <T extends string>(keys: readonly T[]) =>
  fc.oneof(fc.dictionary(fc.constantFrom(...keys, 'unknownKey'), value, { maxKeys: keys.length + 1 }), value);
const ruleLike = fc.record(
  {
    name: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), scalar),
    on: fc.oneof(fc.constantFrom('DeploymentCompleted', 'NoSuchEvent'), value),
    if: fc.oneof(fc.constantFrom('data.x == "y"', 'data.x ==', '((', 'true', ''), scalar),
    do: fc.oneof(
      fc.array(
        fc.record(
          {
            action: fc.oneof(fc.constantFrom('slack.post', 'jira.comment', 'nope', 'a.b.c'), scalar),
            with: fc.oneof(
              fc.dictionary(
                fc.string({ maxLength: 6 }),
                fc.oneof(scalar, fc.constantFrom('{{ .data.x }}', '{{ .data.', '{{ | }}')),
              ),
              value,
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 2 },
      ),
      value,
    ),
    maxAttempts: scalar,
    timeout: scalar,
    concurrency: scalar,
  },
  { requiredKeys: [] },
);
const configLike = fc.record(
  {
    server: section(['host', 'port', 'token', 'bodyLimit', 'shutdownTimeout'] as const),
    store: section(['kind', 'path', 'synchronous', 'retention', 'maxSize', 'servers', 'stream'] as const),
    plugins: fc.oneof(
      fc.dictionary(
        fc.oneof(fc.constantFrom('jira', 'slack', 'dingtalk', 'Bad Key'), fc.string({ maxLength: 6 })),
        fc.oneof(section(['package', 'options'] as const), value),
        { maxKeys: 3 },
      ),
      value,
    ),
    rules: fc.oneof(fc.array(ruleLike, { maxLength: 3 }), value),
    pipelines: value,
    log: section(['level'] as const),
    extra: value,
  },
  { requiredKeys: [] },
);

const yamlChar = fc.constantFrom(
  ...':{}[]-&*!|>\'"#%@`,?\n\t \\$',
  'a',
  '1',
  '{{',
  '${',
  '&a ',
  '*a',
  '<<: *a',
  '!!binary ',
  '!!str ',
  '---\n',
  '\u00e9',
  '\ud83d\ude00',
  '\u0000',
);
const mutation = fc.record({
  at: fc.nat({ max: VALID.length }),
  remove: fc.nat({ max: 6 }),
  insert: fc.array(yamlChar, { maxLength: 4 }).map((a) => a.join('')),
});

describe('fuzzing config files and CLI arguments', () => {
  afterAll(() => {
    console.log(`[reliability:fuzz-config-cli] ${JSON.stringify(counts)}`);
  });

  it('the valid base config loads (so mutations start from something real)', () => {
    writeFileSync(file, VALID);
    const loaded = loadConfig(file, { env, cwd: dir });
    expect(loaded.config.rules.map((r) => r.name)).toEqual(['notify']);
  });

  it('loadConfig on generated configs throws nothing but a ConfigError with file:line:col', () => {
    fc.assert(
      fc.property(configLike, (config) => checkLoad(stringify(config))),
      { numRuns: RUNS },
    );
  });

  it('loadConfig on a valid file with characters deleted and inserted', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let text = VALID;
        for (const m of mutations) {
          const at = Math.min(m.at, text.length);
          text = text.slice(0, at) + m.insert + text.slice(at + m.remove);
        }
        checkLoad(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('loadConfig on YAML token soup, aliases and tags', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(yamlChar, fc.string({ maxLength: 4 })), { maxLength: 40 }), (parts) =>
        checkLoad(parts.join('')),
      ),
      { numRuns: RUNS },
    );
    // Alias expansion beyond the limit ("billion laughs") is a config problem, not a crash.
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [i, name] of ['b', 'c', 'd', 'e'].entries()) {
      const prev = 'abcd'[i]!;
      bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    checkLoad(bomb.join('\n'));
  });

  it('switchyard <generated arguments>: exit 0/1/2 with a reason, no stack trace, no hang', async () => {
    const closed = await freePort();
    const cwd = tempDir('sy-fuzz-cli-');
    const word = fc.oneof(
      fc.constantFrom(
        'run',
        'check',
        'emit',
        'events',
        'trace',
        'dlq',
        'list',
        'replay',
        'drop',
        'plugins',
        'schema',
        'help',
        'DeploymentCompleted',
        '--config',
        '-c',
        '--url',
        '--token',
        '--json',
        '--no-color',
        '--verbose',
        '--help',
        '-V',
        '--port',
        '--host',
        '-d',
        '--data',
        '-s',
        '--subject',
        '--source',
        '--id',
        '-t',
        '--type',
        '-n',
        '--limit',
        '--since',
        '--correlation',
        '--all',
        '--subscription',
        '--',
        '-',
        '{}',
        '{"a":',
        '@nope.json',
        '.',
        '/',
        'not a url',
        `http://127.0.0.1:${closed}`,
        '99999',
        '-1',
        '0',
      ),
      fc
        .string({
          unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
          maxLength: 12,
        })
        .filter((s) => !s.includes('://') && s !== '@-' && s !== '-f' && s !== '--follow'),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
    );
    const argv = fc.array(word, { maxLength: 6 });
    const samples = fc.sample(argv, { numRuns: CLI_RUNS, seed: Number(process.env.SY_FUZZ_SEED ?? 42) });
    // `run` with a config would start a daemon; no config exists in cwd and --config names none.
    const problems: string[] = [];
    await mapLimit(samples, 2, async (args) => {
      const res = await runCli(
        args,
        { SWITCHYARD_URL: `http://127.0.0.1:${closed}`, SWITCHYARD_TOKEN: 'cli-fuzz-token-0123456789' },
        { cwd, timeoutMs: 15_000 },
      );
      counts.cli++;
      const out = `${res.stdout}\n${res.stderr}`;
      const label = `switchyard ${JSON.stringify(args)} → ${res.code}: ${out.slice(0, 400)}`;
      if (![0, 1, 2].includes(res.code)) problems.push(`exit code: ${label}`);
      if (res.code !== 0 && out.trim() === '') problems.push(`no reason: ${label}`);
      if (!args.includes('--verbose') && /\n\s+at .+:\d+:\d+\)?/.test(out))
        problems.push(`stack trace: ${label}`);
      if (/TypeError|ReferenceError|Cannot read properties|undefined is not/.test(out))
        problems.push(`crash: ${label}`);
    });
    expect(problems).toEqual([]);
    expect(counts.cli).toBe(samples.length);
  });
});
