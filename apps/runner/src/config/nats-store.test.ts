// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} and ${file:…} are config syntax here
// `store: { kind: nats, … }`: what the schema accepts and how it says what it refuses, the options
// handed to NatsTransport, and that neither `check` nor the logs ever show a NATS credential.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, isConfigError, RunnerError } from '../errors.js';
import { describeStore, natsOptions } from '../store.js';
import { loadConfig } from './load.js';
import type { NatsStoreConfig } from './schema.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-nats-config-'));
let n = 0;
function write(text: string): string {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}
const env = { NATS_PASSWORD: 'nats-password-hunter2', NATS_TOKEN: 'nats-token-s3cr3t-value' };

function load(store: string) {
  return loadConfig(write(`store: ${store}\n`), { env, cwd: dir });
}
function natsStore(store: string): NatsStoreConfig {
  const config = load(store).config.store;
  if (config.kind !== 'nats') throw new Error('expected a nats store');
  return config;
}
function problemsOf(store: string): string[] {
  try {
    load(store);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    return error.problems.map((p) => formatProblem(p).replace(/^c\d+\.yaml:/, 'switchyard.yaml:'));
  }
  throw new Error('expected the config to be rejected');
}

describe('store.kind nats: schema', () => {
  it('accepts every key, durations in the same units as the sqlite store', () => {
    const store = natsStore(
      [
        '',
        '  kind: nats',
        '  servers: [nats://n1:4222, nats://n2:4222, nats://n3:4222]',
        '  stream: DEPLOYS',
        '  subjectPrefix: acme.ci',
        '  name: runner-a',
        '  replicas: 3',
        '  ackWait: 45s',
        '  duplicateWindow: 5m',
        '  maxAge: 30d',
        '  maxAckPending: 2000',
        '  credentials: { user: switchyard, password: ${env:NATS_PASSWORD} }',
      ].join('\n'),
    );
    expect(store).toEqual({
      kind: 'nats',
      servers: ['nats://n1:4222', 'nats://n2:4222', 'nats://n3:4222'],
      stream: 'DEPLOYS',
      subjectPrefix: 'acme.ci',
      name: 'runner-a',
      replicas: 3,
      ackWait: 45_000,
      duplicateWindow: 300_000,
      maxAge: 30 * 86_400_000,
      maxAckPending: 2000,
      credentials: { user: 'switchyard', password: 'nats-password-hunter2' },
    });
  });

  it('names each bad key at its line with the fix', () => {
    expect(
      problemsOf(
        [
          '',
          '  kind: nats',
          '  servers: []',
          '  stream: "my stream"',
          '  subjectPrefix: "a.*"',
          '  replicas: 7',
          '  ackWait: 200ms',
          '  duplicateWindow: soon',
          '  maxAckPending: 0',
          '  ackwait: 3s',
        ].join('\n'),
      ),
    ).toEqual([
      'switchyard.yaml:3:12: store.servers: list at least one NATS URL (nats://host:4222) [SY_CONFIG_INVALID]',
      'switchyard.yaml:4:11: store.stream: a stream name is 1-200 letters, digits, "_" or "-" [SY_CONFIG_INVALID]',
      'switchyard.yaml:5:18: store.subjectPrefix: a subject prefix is dot-separated tokens of letters, digits, "_" and "-" [SY_CONFIG_INVALID]',
      'switchyard.yaml:6:13: store.replicas: replicas is 1-5 [SY_CONFIG_INVALID]',
      'switchyard.yaml:7:12: store.ackWait: ackWait must be at least 1s (a running handler extends it every ackWait/3) [SY_CONFIG_INVALID]',
      'switchyard.yaml:8:20: store.duplicateWindow: expected a duration like 500ms, 30s, 5m, 1h or 2d, found "soon" [SY_CONFIG_INVALID]',
      'switchyard.yaml:9:18: store.maxAckPending: maxAckPending must be at least 1 [SY_CONFIG_INVALID]',
      'switchyard.yaml:10:3: store.ackwait: unknown key "ackwait"; did you mean "ackWait"? (allowed: kind, path, synchronous, retention, maxSize, servers, stream, subjectPrefix, name, replicas, ackWait, duplicateWindow, maxAge, maxAckPending, credentials) [SY_CONFIG_UNKNOWN_KEY]',
    ]);
  });

  it('requires a max age of at least the duplicate window (JetStream refuses the stream otherwise)', () => {
    expect(problemsOf('{ kind: nats, servers: nats://n1:4222, maxAge: 1m }')).toEqual([
      expect.stringMatching(
        /store\.maxAge: maxAge \(60000 ms\) must be at least the duplicate window \(120000 ms, the default\); raise maxAge or lower duplicateWindow \[SY_CONFIG_INVALID\]$/,
      ),
    ]);
    expect(
      natsStore('{ kind: nats, servers: nats://n1:4222, maxAge: 1m, duplicateWindow: 30s }'),
    ).toMatchObject({ maxAge: 60_000, duplicateWindow: 30_000 });
    expect(natsStore('{ kind: nats, servers: nats://n1:4222, maxAge: 0 }').maxAge).toBe(0);
  });

  it('credentials: a .creds path, { token } or { user, password }; anything else says what is expected', () => {
    expect(natsStore('{ kind: nats, servers: x, credentials: ./nats/app.creds }').credentials).toBe(
      './nats/app.creds',
    );
    expect(
      natsStore('{ kind: nats, servers: x, credentials: { token: ${env:NATS_TOKEN} } }').credentials,
    ).toEqual({
      token: 'nats-token-s3cr3t-value',
    });
    const problems = (credentials: string) =>
      problemsOf(`{ kind: nats, servers: x, credentials: ${credentials} }`).map((p) =>
        p.replace(/^switchyard\.yaml:\d+:\d+: /, ''),
      );
    expect(problems('{ user: a, pass: b }')).toEqual([
      'store.credentials.password: required with user (e.g. password: ${env:NATS_PASSWORD}) [SY_CONFIG_INVALID]',
      'store.credentials.pass: unknown key "pass" (allowed: token, user, password) [SY_CONFIG_UNKNOWN_KEY]',
    ]);
    expect(problems('{ user: a }')).toEqual([
      'store.credentials.password: required with user (e.g. password: ${env:NATS_PASSWORD}) [SY_CONFIG_INVALID]',
    ]);
    expect(problems('{ password: ${env:NATS_PASSWORD} }')).toEqual([
      'store.credentials.user: required with password [SY_CONFIG_INVALID]',
    ]);
    expect(problems('{ token: t, user: a, password: b }')).toEqual([
      'store.credentials: give either { token } or { user, password }, not both [SY_CONFIG_INVALID]',
    ]);
    expect(problems('{}')).toEqual([
      'store.credentials: expected the path of a .creds file, { token: … } or { user: …, password: … } [SY_CONFIG_INVALID]',
    ]);
  });

  it('never shows a secret in a problem', () => {
    const text = problemsOf(
      '{ kind: nats, servers: x, credentials: { token: ${env:NATS_TOKEN}, user: ${env:NATS_PASSWORD} } }',
    ).join('\n');
    expect(text).not.toContain(env.NATS_TOKEN);
    expect(text).not.toContain(env.NATS_PASSWORD);
  });
});

describe('store.kind nats: NatsTransport options', () => {
  it('passes every key through, durations in ms, the connection named after host and pid', () => {
    const store = natsStore(
      '{ kind: nats, servers: [nats://a:4222], stream: S1, subjectPrefix: p1, replicas: 3, ackWait: 2s, duplicateWindow: 10s, maxAge: 1h, maxAckPending: 50 }',
    );
    expect(natsOptions(store, { dir })).toEqual({
      servers: ['nats://a:4222'],
      name: `${hostname()}:${process.pid}`,
      stream: 'S1',
      subjectPrefix: 'p1',
      replicas: 3,
      ackWaitMs: 2000,
      duplicateWindowMs: 10_000,
      maxAgeMs: 3_600_000,
      maxAckPending: 50,
    });
    expect(natsOptions(natsStore('{ kind: nats, servers: x, name: r1 }'), { dir }).name).toBe('r1');
  });

  it('maps credentials to what NatsTransport expects; a .creds path is relative to the config file', () => {
    writeFileSync(join(dir, 'app.creds'), '-----BEGIN NATS USER JWT-----\n');
    const creds = (c: string) =>
      natsOptions(natsStore(`{ kind: nats, servers: x, credentials: ${c} }`), { dir }).credentials;
    expect(creds('./app.creds')).toEqual({ credsFile: join(dir, 'app.creds') });
    expect(creds('{ token: ${env:NATS_TOKEN} }')).toEqual({ token: env.NATS_TOKEN });
    expect(creds('{ user: u, password: ${env:NATS_PASSWORD} }')).toEqual({
      user: 'u',
      pass: env.NATS_PASSWORD,
    });
    expect(() => creds('./missing.creds')).toThrow(RunnerError);
    expect(() => creds('./missing.creds')).toThrow(
      `cannot read the NATS credentials file ${join(dir, 'missing.creds')} named by store.credentials (it does not exist); paths are relative to the config file`,
    );
  });

  it('describes the store without the user and password of a server URL', () => {
    const store = natsStore(
      '{ kind: nats, servers: [nats://switchyard:pa55word@n1:4222, "tok3n@n2:4222", nats://n3:4222], replicas: 3 }',
    );
    const text = describeStore(store, dir);
    expect(text).toBe(
      'nats nats://***@n1:4222,***@n2:4222,nats://n3:4222 stream SWITCHYARD_EVENTS replicas 3',
    );
    expect(describeStore(natsStore('{ kind: nats, servers: nats://n1:4222, stream: S2 }'), dir)).toBe(
      'nats nats://n1:4222 stream S2',
    );
  });
});
