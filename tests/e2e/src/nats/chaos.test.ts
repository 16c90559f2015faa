// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// Chaos (issue #10): two `switchyard run` processes share one nats-server (store.kind nats) and one
// rule with concurrency N that comments on a fake Jira for every event. 5,000 events are posted to
// both daemons' /events; one daemon is SIGKILLed while events still arrive. At the end every event
// answered 202 (by either daemon) has been commented at least once, and comments are repeated only
// for deliveries the killed daemon had in flight (at most its rule concurrency). The survivor serves
// the trace of events only the killed daemon accepted: queries are shared in NATS mode.
import { randomUUID } from 'node:crypto';
import { FakeJira, findNatsServer, type NatsServer, startNatsServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commentCounts, commentEachConfig, deploymentEvents, issueKeys } from '../support/comment-each.js';
import {
  Api,
  type DaemonProcess,
  freePort,
  mapLimit,
  spawnDaemon,
  tempDir,
  waitFor,
  writeConfig,
} from '../support/daemon.js';
import { EventLoader } from '../support/load.js';

const EVENTS = Number(process.env.SY_NATS_CHAOS_EVENTS ?? 5_000);
const CONCURRENCY = 16;
const KEYS = issueKeys('CHAOS', 20);
const TOKEN = 'nats-chaos-token-0123456789';
const JIRA_TOKEN = 'jira-api-token-nats-chaos';
/** Kill the first daemon once it has accepted this share of its half of the events. */
const KILL_AT = 0.4;

describe.skipIf(findNatsServer() === undefined)(
  'chaos: two runners on NATS, one SIGKILLed mid-stream',
  () => {
    const jira = new FakeJira({ auth: { email: 'bot@example.com', token: JIRA_TOKEN } });
    let nats: NatsServer;
    const daemons: DaemonProcess[] = [];

    beforeAll(async () => {
      nats = await startNatsServer({ jetstream: true });
      await jira.start();
      for (const key of KEYS) jira.addIssue({ key });
    });

    afterAll(async () => {
      for (const d of daemons) await d.kill();
      await jira.stop();
      await nats?.stop();
    });

    it(`handles every accepted event at least once; repeats ≤ the killed runner's in-flight (${EVENTS} events)`, async () => {
      const started = Date.now();
      const dir = tempDir('sy-nats-chaos-');
      const config = writeConfig(
        dir,
        // A short ack wait so the killed runner's deliveries come back to the survivor quickly.
        commentEachConfig({
          store: `{ kind: nats, servers: [${nats.url}], stream: CHAOS, ackWait: 2s }`,
          jiraUrl: jira.url,
          concurrency: CONCURRENCY,
        }),
      );
      const env = { SY_TOKEN: TOKEN, JIRA_TOKEN };
      const [victim, survivor] = await Promise.all([
        freePort().then((port) => spawnDaemon({ config, env, port })),
        freePort().then((port) => spawnDaemon({ config, env, port })),
      ]);
      daemons.push(victim, survivor);
      const victimApi = new Api(victim.url, TOKEN);
      const survivorApi = new Api(survivor.url, TOKEN);

      const ids: string[] = Array.from({ length: EVENTS }, () => randomUUID());
      const build = deploymentEvents(ids, KEYS, 'e2e/nats-chaos');
      const half = Math.floor(EVENTS / 2);
      const toVictim = new EventLoader(ids.slice(0, half), build);
      const toSurvivor = new EventLoader(ids.slice(half), build);

      const victimPump = toVictim.pump(victimApi, { concurrency: 16, alive: () => victim.alive() });
      const survivorPump = toSurvivor.pump(survivorApi, { concurrency: 16, alive: () => survivor.alive() });
      await waitFor(() => toVictim.accepted.size >= half * KILL_AT, 60_000, 'the victim accepting events', 5);
      const commentedAtKill = commentCounts(jira, KEYS).size;
      const status = await victim.kill();
      expect(status.signal).toBe('SIGKILL');
      const killedAtMs = Date.now() - started;
      await victimPump;
      // Exactly what the killed daemon answered 202 for; the survivor never saw these over HTTP.
      const acceptedByVictim = [...toVictim.accepted];
      // What the victim did not get to (or whose answer was lost) goes to the survivor.
      await Promise.all([
        survivorPump,
        toVictim.pump(survivorApi, { concurrency: 16, alive: () => survivor.alive() }),
      ]);
      for (const loader of [toVictim, toSurvivor]) {
        expect(loader.remaining).toBe(0);
        expect(loader.stats.rejected).toEqual(new Map());
      }
      const accepted = new Set([...toVictim.accepted, ...toSurvivor.accepted]);
      expect(accepted.size).toBe(EVENTS);

      const ingestedMs = Date.now() - started;
      try {
        await waitFor(
          () => {
            const counts = commentCounts(jira, KEYS);
            return [...accepted].every((id) => counts.has(id)) || undefined;
          },
          // Generous: CI runs other packages' suites beside this one on two cores.
          120_000,
          'every accepted event commented',
          250,
        );
      } catch (error) {
        // Say where the missing ones stand, so a failure can be told apart from a slow machine.
        const counts = commentCounts(jira, KEYS);
        const missing = [...accepted].filter((id) => !counts.has(id));
        const samples = await Promise.all(
          missing.slice(0, 5).map(async (id) => ({
            id,
            acceptedBy: acceptedByVictim.includes(id) ? 'victim' : 'survivor',
            trace: (await survivorApi.get(`/events/${id}/trace`)).body,
          })),
        );
        throw new Error(
          `${(error as Error).message}: ${missing.length} of ${EVENTS} not commented (${
            Date.now() - started - ingestedMs
          } ms after the last post); first ones: ${JSON.stringify(samples)}\nsurvivor log tail:\n${survivor.lines
            .slice(-20)
            .join('\n')}`,
        );
      }
      const handledMs = Date.now() - started;

      // Shared queries: the survivor answers the trace of every event only the victim accepted.
      const notSucceeded: string[] = [];
      await mapLimit(acceptedByVictim, 32, async (id) => {
        const res = await survivorApi.get<{
          events: Array<{ id: string }>;
          deliveries: Array<{ subscription: string; status: string }>;
        }>(`/events/${id}/trace`);
        expect(res.status).toBe(200);
        expect(res.body.events.map((e) => e.id)).toContain(id);
        const delivery = res.body.deliveries.find((d) => d.subscription === 'rule:comment-each');
        if (delivery?.status !== 'succeeded') notSucceeded.push(id);
      });
      // A delivery record is written just after its comment; give the last few a moment.
      await waitFor(
        async () => {
          for (const id of [...notSucceeded]) {
            const res = await survivorApi.get<{
              deliveries: Array<{ subscription: string; status: string }>;
            }>(`/events/${id}/trace`);
            if (
              res.body.deliveries.some(
                (d) => d.subscription === 'rule:comment-each' && d.status === 'succeeded',
              )
            )
              notSucceeded.splice(notSucceeded.indexOf(id), 1);
          }
          return notSucceeded.length === 0;
        },
        15_000,
        'every delivery of the victim’s events recorded as succeeded',
      );
      const dlq = await survivorApi.get<{ deadLetters: unknown[] }>('/dlq');
      expect(dlq.body.deadLetters).toEqual([]);

      const counts = commentCounts(jira, KEYS);
      const repeated = [...counts.values()].filter((n) => n > 1);
      const extraComments = repeated.reduce((sum, n) => sum + n - 1, 0);
      const summary = {
        events: EVENTS,
        acceptedByVictim: acceptedByVictim.length,
        commentedAtKill,
        killedAtMs,
        handledMs,
        lost: [...accepted].filter((id) => !counts.has(id)).length,
        resentAfterLostAnswer: toVictim.stats.duplicates + toSurvivor.stats.duplicates,
        failedPosts: toVictim.stats.failures + toSurvivor.stats.failures,
        eventsWithRepeatedComment: repeated.length,
        extraComments,
        bound: CONCURRENCY,
        durationMs: Date.now() - started,
      };
      console.log(`[nats:chaos] ${JSON.stringify(summary)}`);
      expect(summary.lost).toBe(0);
      // Only the deliveries the victim had in flight can run twice: at most its rule concurrency.
      expect(extraComments).toBeLessThanOrEqual(CONCURRENCY);
      expect(survivor.alive()).toBe(true);
      expect(await survivor.stop()).toEqual({ code: 0, signal: null });
      await Promise.all([victimApi.close(), survivorApi.close()]);
    }, 240_000);
  },
);
