// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} and ${file:…} are config syntax here
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, isConfigError } from '../errors.js';
import { loadConfig } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-config-'));
let n = 0;
function write(text: string, name = `c${n++}.yaml`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function problemsOf(text: string, env: Record<string, string> = {}): string[] {
  const path = write(text);
  try {
    loadConfig(path, { env, cwd: dir });
  } catch (error) {
    if (!isConfigError(error)) throw error;
    return error.problems.map(formatProblem);
  }
  throw new Error('expected the config to be rejected');
}

describe('loadConfig', () => {
  it('applies defaults to an empty file', () => {
    const loaded = loadConfig(write(''), { env: {}, cwd: dir });
    expect(loaded.config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      bodyLimit: 1048576,
      shutdownTimeout: 10000,
    });
    expect(loaded.config.store).toEqual({ kind: 'sqlite', path: './data/switchyard.db' });
    expect(loaded.config.rules).toEqual([]);
  });

  it('resolves ${env:} and ${file:} references, also inside flow mappings, and registers them as secrets', () => {
    writeFileSync(join(dir, 'jira.secret'), 'file-secret-value\n');
    const path = write(
      [
        'server: { host: 127.0.0.1, port: ${env:PORT}, token: ${env:SWITCHYARD_TOKEN} }',
        'store: { kind: memory }',
        'plugins:',
        '  jira: { options: { webhookSecret: ${file:jira.secret}, auth: "Bearer ${env:SWITCHYARD_TOKEN}" } }',
      ].join('\n'),
    );
    const loaded = loadConfig(path, {
      env: { PORT: '9999', SWITCHYARD_TOKEN: 'tok-0123456789abcdef' },
      cwd: dir,
    });
    expect(loaded.config.server.port).toBe(9999);
    expect(loaded.config.server.token).toBe('tok-0123456789abcdef');
    expect(loaded.config.plugins.jira?.options).toEqual({
      webhookSecret: 'file-secret-value',
      auth: 'Bearer tok-0123456789abcdef',
    });
    expect(loaded.secrets.redact('x tok-0123456789abcdef file-secret-value')).toBe('x [redacted] [redacted]');
  });

  // A table of bad configs and the exact messages a person sees.
  const cases: Array<[string, string, string[], Record<string, string>?]> = [
    ['missing file', '', [], {}],
    [
      'YAML syntax',
      'server:\n  port: 80\n   host: x\n',
      [
        'c?.yaml:2:9: YAML: Nested mappings are not allowed in compact mappings [SY_CONFIG_SYNTAX]',
        'c?.yaml:2:9: YAML: Implicit keys need to be on a single line [SY_CONFIG_SYNTAX]',
      ],
    ],
    [
      'unknown top-level key with did-you-mean',
      'servr: { port: 80 }\n',
      [
        'c?.yaml:1:1: servr: unknown key "servr"; did you mean "server"? (allowed: server, store, plugins, rules, pipelines, log) [SY_CONFIG_UNKNOWN_KEY]',
      ],
    ],
    [
      'unknown nested key and a bad port, both reported',
      'server:\n  prot: 80\n  port: 70000\n',
      [
        'c?.yaml:2:3: server.prot: unknown key "prot"; did you mean "port"? (allowed: host, port, token, bodyLimit, shutdownTimeout) [SY_CONFIG_UNKNOWN_KEY]',
        'c?.yaml:3:9: server.port: a port is 0-65535 [SY_CONFIG_INVALID]',
      ],
    ],
    [
      'unknown store kind',
      'store: { kind: postgres }\n',
      [
        'c?.yaml:1:16: store.kind: expected one of sqlite, memory, nats, found "postgres" [SY_CONFIG_INVALID]',
      ],
    ],
    [
      'missing env reference, placed at the reference',
      'server:\n  token: ${env:NOPE_TOKEN}\n',
      [
        'c?.yaml:2:10: server.token: environment variable NOPE_TOKEN is not set (referenced as ${env:NOPE_TOKEN}); export it before starting switchyard [SY_CONFIG_REF_MISSING]',
      ],
    ],
    [
      'missing secret file',
      'plugins:\n  jira: { options: { secret: "${file:./nope.txt}" } }\n',
      [
        `c?.yaml:2:31: plugins.jira.options.secret: cannot read secret file ${dir}/nope.txt (it does not exist) referenced as \${file:./nope.txt} [SY_CONFIG_REF_MISSING]`,
      ],
    ],
    [
      'rule problems: missing do, bad action name, wrong type, duplicate name',
      [
        'rules:',
        '  - name: a',
        '    on: DeploymentCompleted',
        '  - name: b',
        '    on: DeploymentCompleted',
        '    do: [ { action: nodot } ]',
        '    maxAttempts: "three"',
        '  - name: b',
        '    on: X',
        '    do: [ { action: x.y } ]',
      ].join('\n'),
      [
        'c?.yaml:2:5: rules[0].do: required (expected array) [SY_CONFIG_INVALID]',
        'c?.yaml:6:21: rules[1].do[0].action: expected <plugin>.<action> [SY_CONFIG_INVALID]',
        'c?.yaml:7:18: rules[1].maxAttempts: expected number, found string [SY_CONFIG_INVALID]',
      ],
    ],
    [
      'duplicate rule names',
      'rules:\n  - { name: a, on: X, do: [ { action: x.y } ] }\n  - { name: a, on: X, do: [ { action: x.y } ] }\n',
      [
        'c?.yaml:3:13: rules[1].name: rule name "a" is already used by rules[0]; rule names name durable subscriptions and must be unique [SY_CONFIG_RULE_DUPLICATE]',
      ],
    ],
    [
      'token required off loopback',
      'server: { host: 0.0.0.0 }\n',
      [
        'c?.yaml:1:17: server.host: server.token is required when the server listens on 0.0.0.0 (not loopback); set token: ${env:SWITCHYARD_TOKEN} [SY_CONFIG_INVALID]',
      ],
    ],
    [
      'bad duration and size',
      'server: { shutdownTimeout: soon, bodyLimit: huge }\n',
      [
        'c?.yaml:1:28: server.shutdownTimeout: expected a duration like 500ms, 30s, 5m, 1h or 2d, found "soon" [SY_CONFIG_INVALID]',
        'c?.yaml:1:45: server.bodyLimit: expected a size like 512kb or 1mb, found "huge" [SY_CONFIG_INVALID]',
      ],
    ],
    [
      'root is a list',
      '- a\n- b\n',
      ['c?.yaml:1:1: the config must be a mapping (key: value lines) [SY_CONFIG_INVALID]'],
    ],
    [
      'root is binary',
      '!!binary aGVsbG8=\n',
      ['c?.yaml:1:10: the config must be a mapping (key: value lines) [SY_CONFIG_INVALID]'],
    ],
    [
      'a list or mapping as a key',
      'server: { port: 8080 }\n? [a, b]\n: 1\nplugins:\n  ? { x: 1 }\n  : {}\n',
      [
        'c?.yaml:2:3: a key must be plain text, not a list or a mapping; quote it if it is meant as text [SY_CONFIG_SYNTAX]',
        'c?.yaml:5:5: a key must be plain text, not a list or a mapping; quote it if it is meant as text [SY_CONFIG_SYNTAX]',
      ],
    ],
  ];

  it.each(cases.slice(1))('rejects %s', (_name, text, expected, env) => {
    const got = problemsOf(text, env).map((line) => line.replace(/^c\d+\.yaml/, 'c?.yaml'));
    expect(got).toEqual(expected);
  });

  it('names a missing file and how to fix it', () => {
    try {
      loadConfig(join(dir, 'absent.yaml'), { cwd: dir });
      throw new Error('expected a rejection');
    } catch (error) {
      if (!isConfigError(error)) throw error;
      expect(error.problems.map(formatProblem)).toEqual([
        'absent.yaml: config file not found; create it (see examples/quickstart/switchyard.yaml) or pass --config <file> [SY_CONFIG_NOT_FOUND]',
      ]);
    }
  });

  it('never puts a secret value in a message', () => {
    const got = problemsOf('server: { shutdownTimeout: "${env:SECRET_X}" }\n', {
      SECRET_X: 'hunter2-very-secret',
    });
    expect(got.join('\n')).not.toContain('hunter2-very-secret');
    expect(got.join('\n')).toContain('[redacted]');
  });
});
