// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// `switchyard run` (the built CLI) on `store: { kind: nats }`: readiness follows the NATS connection
// across a server restart, events stored before the outage are still there after it, and NATS
// credentials authenticate without ever appearing in logs, errors or `switchyard check`.
import { findNatsServer, type NatsServer, startNatsServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  type ApiResponse,
  type DaemonProcess,
  freePort,
  runCli,
  spawnDaemon,
  tempDir,
  waitFor,
  writeConfig,
} from '../support/daemon.js';
import { type AuthNatsServer, startNatsServerWithUser } from '../support/nats.js';

const TOKEN = 'nats-readyz-token-0123456789';
const hasNats = findNatsServer() !== undefined;

const deployment = (id: string) => ({
  specversion: '1.0',
  id,
  source: 'e2e/nats-readyz',
  type: 'DeploymentCompleted',
  subject: 'api',
  data: { service: 'api', environment: 'dev', version: '1.0.0', outcome: 'succeeded', issueKeys: [] },
});

interface Ready {
  ok: boolean;
  store: { ok: boolean; detail?: string };
}

describe.skipIf(!hasNats)('readiness follows the NATS connection', () => {
  let nats: NatsServer;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    await daemon?.kill();
    await nats?.stop();
  });

  it('/readyz is 503 while nats-server is stopped and 200 again after it restarts on the same port', async () => {
    const dir = tempDir('sy-nats-readyz-');
    const config = writeConfig(
      dir,
      [
        'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TOKEN} }',
        `store: { kind: nats, servers: [${nats.url}], stream: READYZ, ackWait: 2s }`,
        'log: { level: info }',
      ].join('\n'),
    );
    daemon = await spawnDaemon({ config, env: { SY_TOKEN: TOKEN }, port: await freePort() });
    const api = new Api(daemon.url, TOKEN);
    try {
      const up = await api.get<Ready>('/readyz');
      expect(up.status).toBe(200);
      expect(up.body.store).toMatchObject({
        ok: true,
        detail: expect.stringContaining(`connected to 127.0.0.1:${nats.port}`),
      });
      expect((await api.postEvent(deployment('before-outage'))).status).toBe(202);

      let down: { status: number; body: Ready } | undefined;
      let postWhileDown: ApiResponse | undefined;
      await nats.restart(async () => {
        down = await waitFor(
          async () => {
            const res = await api.get<Ready>('/readyz');
            return res.status === 503 ? res : undefined;
          },
          15_000,
          '/readyz 503',
        );
        // Not stored, so not accepted: the sender gets an error and retries later.
        postWhileDown = await api.postEvent(deployment('during-outage'));
      });
      expect(down?.body.ok).toBe(false);
      expect(down?.body.store.ok).toBe(false);
      expect(down?.body.store.detail).toMatch(/disconnected from NATS|did not answer/);
      expect(postWhileDown).toMatchObject({
        status: 503,
        headers: { 'retry-after': expect.stringMatching(/^\d+$/) },
        body: {
          error: { code: 'SY_RUNNER_STORE_UNAVAILABLE', message: expect.stringContaining('SY_NATS_') },
        },
      });

      await waitFor(async () => (await api.get('/readyz')).status === 200, 20_000, '/readyz 200 again');
      const before = await api.get<{ event: { id: string } }>('/events/before-outage');
      expect(before.status).toBe(200);
      expect(before.body.event.id).toBe('before-outage');
      const after = await api.postEvent(deployment('after-outage'));
      expect(after.status).toBe(202);
      expect((await api.get('/events/after-outage')).status).toBe(200);
      expect(daemon.lines.some((l) => l.includes('NATS disconnected; reconnecting'))).toBe(true);
      expect(daemon.lines.some((l) => l.includes('NATS reconnected'))).toBe(true);
      expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await api.close();
    }
  }, 90_000);
});

describe.skipIf(!hasNats)('store.credentials against a nats-server that requires a password', () => {
  const PASSWORD = 'nats-e2e-password-hunter2';
  let nats: AuthNatsServer;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    nats = await startNatsServerWithUser('switchyard', PASSWORD);
  });
  afterAll(async () => {
    await daemon?.kill();
    await nats?.stop();
  });

  const configWith = (store: string) =>
    writeConfig(
      tempDir('sy-nats-auth-'),
      [
        'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TOKEN} }',
        `store: ${store}`,
        'log: { level: debug }',
      ].join('\n'),
    );

  it('{ user, password } from ${env:…} connects; the password is in no log line', async () => {
    const config = configWith(
      `{ kind: nats, servers: [${nats.url}], stream: AUTH, credentials: { user: switchyard, password: \${env:NATS_PASSWORD} } }`,
    );
    daemon = await spawnDaemon({
      config,
      env: { SY_TOKEN: TOKEN, NATS_PASSWORD: PASSWORD },
      port: await freePort(),
    });
    const api = new Api(daemon.url, TOKEN);
    try {
      expect((await api.get('/readyz')).status).toBe(200);
      expect((await api.postEvent(deployment('with-credentials'))).status).toBe(202);
      expect(await daemon.stop()).toEqual({ code: 0, signal: null });
      const output = daemon.lines.join('\n') + daemon.stderr();
      expect(output).toContain('switchyard ready');
      expect(output).not.toContain(PASSWORD);
    } finally {
      await api.close();
    }
  });

  it('a wrong password stops the start with SY_RUNNER_STORE, without showing the password', async () => {
    const wrong = 'wrong-password-0123456789';
    const config = configWith(
      `{ kind: nats, servers: [${nats.url}], stream: AUTH, credentials: { user: switchyard, password: \${env:NATS_PASSWORD} } }`,
    );
    const failure = await spawnDaemon({
      config,
      env: { SY_TOKEN: TOKEN, NATS_PASSWORD: wrong },
      readyTimeoutMs: 15_000,
    }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(failure).toMatch(/daemon exited \(1\)/);
    expect(failure).toContain('SY_RUNNER_STORE');
    expect(failure).toMatch(/cannot open the nats store: cannot connect to NATS .*\(SY_NATS_CONNECT\)/);
    expect(failure).not.toContain(wrong);
  });

  it('switchyard check shows the servers without the user and password of a URL', async () => {
    const config = configWith(
      `{ kind: nats, servers: ["nats://switchyard:${PASSWORD}@127.0.0.1:${nats.port}"] }`,
    );
    const result = await runCli(['check', '--config', config], { SY_TOKEN: TOKEN });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`store: nats nats://***@127.0.0.1:${nats.port} stream SWITCHYARD_EVENTS`);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    const json = await runCli(['check', '--json', '--config', config], { SY_TOKEN: TOKEN });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).store).toBe(
      `nats nats://***@127.0.0.1:${nats.port} stream SWITCHYARD_EVENTS`,
    );
  });
});
