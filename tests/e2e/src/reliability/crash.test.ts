// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// Crash: the daemon on its SQLite store under a load of 10,000 events, SIGKILLed at random points
// (while events arrive, and while the backlog is being delivered), restarted on the same database.
// At the end every event that was answered 202 is stored, every event's rule action (a comment on
// the fake Jira, with the rule's idempotency key) ran at least once, and comments are repeated only
// for deliveries that were in flight when the process died (bounded by kills × rule concurrency).
import { randomUUID } from 'node:crypto';
import { FakeJira } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commentCounts, commentEachConfig, deploymentEvents, issueKeys } from '../support/comment-each.js';
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

const EVENTS = Number(process.env.SY_CRASH_EVENTS ?? 10_000);
const KILLS = 5;
const CONCURRENCY = 16;
const KEYS = issueKeys('CRASH', 20);
const TOKEN = 'crash-suite-token-0123456789';
const JIRA_TOKEN = 'jira-api-token-crash-suite';
const SEED = Number(process.env.SY_CRASH_SEED ?? Date.now() % 1_000_000);

describe('crash: SIGKILL under load, restart on the same SQLite store', () => {
  const jira = new FakeJira({ auth: { email: 'bot@example.com', token: JIRA_TOKEN } });
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    await jira.start();
    for (const key of KEYS) jira.addIssue({ key });
  });

  afterAll(async () => {
    await daemon?.kill();
    await jira.stop();
  });

  it(`loses no accepted event and repeats only in-flight side effects (${EVENTS} events, ${KILLS} kills)`, async () => {
    const started = Date.now();
    const random = seededRandom(SEED);
    const dir = tempDir('sy-crash-');
    const config = writeConfig(
      dir,
      commentEachConfig({
        store: `{ kind: sqlite, path: ./data/switchyard.db }`,
        jiraUrl: jira.url,
        concurrency: CONCURRENCY,
      }),
    );
    const env = { SY_TOKEN: TOKEN, JIRA_TOKEN };
    const port = await freePort();
    const ids: string[] = Array.from({ length: EVENTS }, () => randomUUID());
    const loader = new EventLoader(ids, deploymentEvents(ids, KEYS, 'e2e/crash'));

    const kills: Array<{ afterMs: number; accepted: number; commented: number; phase: string }> = [];
    for (let k = 0; k < KILLS; k++) {
      daemon = await spawnDaemon({ config, env, port });
      const api = new Api(daemon.url, TOKEN);
      const d = daemon;
      const pumping = loader.pump(api, { concurrency: 32, alive: () => d.alive() });
      // Random point 150–1500 ms after ready. The last two kills land in the delivery backlog: the
      // fourth once every event has been posted, the fifth while the rest is being delivered.
      if (k === KILLS - 2) await pumping;
      const afterMs = Math.round(150 + random() * 1350);
      await new Promise((r) => setTimeout(r, afterMs));
      const phase = loader.remaining > 0 ? 'ingest+delivery' : 'delivery';
      const status = await daemon.kill();
      expect(status.signal).toBe('SIGKILL');
      await pumping;
      await api.close();
      kills.push({ afterMs, accepted: loader.accepted.size, commented: commentedIds().size, phase });
    }

    // Last start: post what is left, then let the backlog drain.
    daemon = await spawnDaemon({ config, env, port });
    const api = new Api(daemon.url, TOKEN);
    const d = daemon;
    await loader.pump(api, { concurrency: 32, alive: () => d.alive() });
    expect(loader.remaining).toBe(0);
    expect(loader.stats.rejected).toEqual(new Map());
    expect(loader.accepted.size).toBe(EVENTS);

    await waitFor(() => commentedIds().size === EVENTS, 45_000, 'every event commented');

    // Every accepted event is stored and its delivery succeeded (the trace API, one call per event).
    const notDone = new Set<string>();
    await mapLimit([...loader.accepted], 32, async (id) => {
      const res = await api.get<{
        events: Array<{ id: string }>;
        deliveries: Array<{ eventId: string; subscription: string; status: string }>;
      }>(`/events/${id}/trace`);
      expect(res.status).toBe(200);
      expect(res.body.events.some((e) => e.id === id)).toBe(true);
      const delivery = res.body.deliveries.find(
        (x) => x.eventId === id && x.subscription === 'rule:comment-each',
      );
      if (delivery?.status !== 'succeeded') notDone.add(id);
    });
    // A delivery's record is written just after its comment: give the last few a moment.
    await waitFor(
      async () => {
        for (const id of [...notDone]) {
          const res = await api.get<{ deliveries: Array<{ subscription: string; status: string }> }>(
            `/events/${id}/trace`,
          );
          if (
            res.body.deliveries.some(
              (x) => x.subscription === 'rule:comment-each' && x.status === 'succeeded',
            )
          )
            notDone.delete(id);
        }
        return notDone.size === 0;
      },
      20_000,
      'every delivery succeeded',
    );
    const dlq = await api.get<{ deadLetters: unknown[] }>('/dlq');
    expect(dlq.body.deadLetters).toEqual([]);

    const counts = commentCounts(jira, KEYS);
    const repeated = [...counts.values()].filter((n) => n > 1);
    const extraComments = repeated.reduce((sum, n) => sum + n - 1, 0);
    const summary = {
      seed: SEED,
      events: EVENTS,
      kills: kills.length,
      killPoints: kills,
      lostAfter202: EVENTS - [...loader.accepted].filter((id) => counts.has(id)).length,
      resentAfterLostAnswer: loader.stats.duplicates,
      failedPosts: loader.stats.failures,
      eventsWithRepeatedComment: repeated.length,
      extraComments,
      bound: KILLS * CONCURRENCY,
      durationMs: Date.now() - started,
    };
    console.log(`[reliability:crash] ${JSON.stringify(summary)}`);
    // Only deliveries in flight at a kill can repeat: at most `concurrency` per kill.
    expect(extraComments).toBeLessThanOrEqual(KILLS * CONCURRENCY);
    expect(daemon.alive()).toBe(true);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    await api.close();
  });

  function commentedIds(): Set<string> {
    return new Set(commentCounts(jira, KEYS).keys());
  }
});
