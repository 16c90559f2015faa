// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// SIGTERM under load: while events are being posted and deliveries (slow Jira comments) are in
// flight, SIGTERM the daemon. It exits 0 within server.shutdownTimeout (plus start-up slack), and
// after a restart on the same store every event answered 202 is stored and handled.
import { randomUUID } from 'node:crypto';
import { FakeJira } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  type DaemonProcess,
  freePort,
  mapLimit,
  seededRandom,
  spawnDaemon,
  tempDir,
  waitFor,
  writeConfig,
} from '../support/daemon.js';
import { EventLoader } from '../support/load.js';

const EVENTS = 3000;
const ROUNDS = 2;
const SHUTDOWN_MS = 3000;
const TOKEN = 'sigterm-suite-token-0123456789';
const SEED = Number(process.env.SY_SIGTERM_SEED ?? Date.now() % 1_000_000);

describe('SIGTERM under load', () => {
  const jira = new FakeJira({ auth: { email: 'bot@example.com', token: 'jira-token-sigterm' } });
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    await jira.start();
    jira.addIssue({ key: 'TERM-1' });
    // Every Jira call takes 20 ms, so deliveries are in flight when the signal comes.
    jira.inject({ kind: 'delay', ms: 20 }, 1_000_000);
  });

  afterAll(async () => {
    if (daemon?.alive()) await daemon.kill();
    await jira.stop();
  });

  it(`exits 0 within its deadline and loses no accepted event (${EVENTS} events, ${ROUNDS} SIGTERMs)`, async () => {
    const random = seededRandom(SEED);
    const dir = tempDir('sy-sigterm-');
    const config = writeConfig(
      dir,
      [
        `server: { host: 127.0.0.1, port: 0, token: \${env:SY_TOKEN}, shutdownTimeout: ${SHUTDOWN_MS}ms }`,
        'store: { kind: sqlite, path: ./data/switchyard.db }',
        'plugins:',
        `  jira: { options: { baseUrl: "${jira.url}", email: bot@example.com, token: \${env:JIRA_TOKEN} } }`,
        'rules:',
        '  - name: comment-each',
        '    on: DeploymentCompleted',
        '    concurrency: 8',
        '    do:',
        '      - action: jira.comment',
        '        with: { issue: "{{ .subject }}", body: "term {{ .id }}" }',
        'log: { level: info }',
      ].join('\n'),
    );
    const env = { SY_TOKEN: TOKEN, JIRA_TOKEN: 'jira-token-sigterm' };
    const port = await freePort();
    const ids: string[] = Array.from({ length: EVENTS }, () => randomUUID());
    const loader = new EventLoader(ids, (id) => ({
      specversion: '1.0',
      id,
      source: 'e2e/sigterm',
      type: 'DeploymentCompleted',
      subject: 'TERM-1',
      data: {
        service: 'api',
        environment: 'production',
        version: '1.0.0',
        outcome: 'succeeded',
        issueKeys: ['TERM-1'],
      },
    }));
    const stops: Array<{ afterMs: number; exitMs: number; accepted: number; commented: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      daemon = await spawnDaemon({ config, env, port });
      const d = daemon;
      const api = new Api(d.url, TOKEN);
      const pumping = loader.pump(api, { concurrency: 16, alive: () => d.alive() });
      const afterMs = Math.round(300 + random() * 700);
      await new Promise((r) => setTimeout(r, afterMs));
      expect(loader.remaining, 'the load is still running at SIGTERM').toBeGreaterThan(0);
      const signalled = Date.now();
      const status = await d.stop(SHUTDOWN_MS + 10_000);
      const exitMs = Date.now() - signalled;
      await pumping;
      await api.close();
      expect(status).toEqual({ code: 0, signal: null });
      // Drain deadline, plus closing the store; the daemon's own hard stop is at +5 s.
      expect(exitMs).toBeLessThan(SHUTDOWN_MS + 2000);
      expect(d.lines.some((l) => l.includes('"stopped"'))).toBe(true);
      stops.push({ afterMs, exitMs, accepted: loader.accepted.size, commented: commented().size });
    }

    daemon = await spawnDaemon({ config, env, port });
    const d = daemon;
    const api = new Api(d.url, TOKEN);
    await loader.pump(api, { concurrency: 16, alive: () => d.alive() });
    expect(loader.stats.rejected).toEqual(new Map());
    expect(loader.accepted.size).toBe(EVENTS);
    await waitFor(() => commented().size === EVENTS, 60_000, 'every event handled');
    await mapLimit([...loader.accepted], 32, async (id) => {
      const res = await api.get<{ event: { id: string } }>(`/events/${id}`);
      expect(res.status, id).toBe(200);
    });
    // Drained, not dropped: in-flight deliveries finished before exit, so none ran twice.
    const comments = jira.comments('TERM-1').length;
    expect(comments).toBe(EVENTS);
    console.log(
      `[reliability:sigterm] ${JSON.stringify({ seed: SEED, events: EVENTS, stops, comments, failedPosts: loader.stats.failures, resentAfterLostAnswer: loader.stats.duplicates })}`,
    );
    await api.close();
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });

  function commented(): Set<string> {
    const seen = new Set<string>();
    for (const c of jira.comments('TERM-1')) {
      const m = /term ([0-9a-f-]{36})/.exec(JSON.stringify(c.body));
      if (m) seen.add(m[1]!);
    }
    return seen;
  }
});
