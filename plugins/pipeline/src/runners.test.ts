import { spawnSync } from 'node:child_process';
import { ManualClock } from '@switchyard/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Gate } from './__fixtures__/gate.js';
import {
  alive,
  createWorld,
  type Host,
  sharedStore,
  transitioned,
  until,
  type World,
} from './__fixtures__/setup.js';
import { PipelineErrorCodes } from './errors.js';
import type { Registry } from './leases.js';

// Several runners sharing one store (NATS JetStream KV in production): one run per pipeline and
// issue across all of them, replace across runners, and a dead runner's runs taken over after its
// lease. Each runner is a host with its own bus and the same key-value store; lease times run on
// one ManualClock, the steps are real processes that wait for the test to release them.

const TTL = 30_000;
const BEAT = TTL / 3;

let world: World;
let gate: Gate;
let clock: ManualClock;
let store: ReturnType<typeof sharedStore>;

beforeEach(async () => {
  world = await createWorld();
  gate = new Gate(world);
  clock = new ManualClock();
  store = sharedStore(clock);
});
afterEach(async () => {
  gate.close();
  await world.close();
});

function runner(index: number, file: string): Promise<Host> {
  return world.host({ pipelines: [file] }, { jira: false, clock, transport: store.transport(index) });
}

/** Every run in the shared store, oldest first. */
async function runs(host: Host): Promise<any[]> {
  const reply = await host.webhook('pipeline', { method: 'GET', path: '/runs', query: { limit: '50' } });
  return ((reply.body as { runs: any[] }).runs ?? []).reverse();
}

async function statuses(host: Host): Promise<string[]> {
  return (await runs(host)).map((r) => r.status);
}

const trigger = (host: Host) => host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));

describe('several runners on one store', () => {
  it('the same pipeline and issue triggered on two runners runs one run after the other, never both at once', async () => {
    const file = gate.pipeline();
    const a = await runner(0, file);
    const b = await runner(1, file);
    await Promise.all([trigger(a), trigger(b)]);
    await until(() => gate.order().length === 1, 10_000, 'one run to start');
    await until(async () => (await statuses(a)).sort().join() === 'queued,running', 5_000, 'one queued');

    // Heartbeats go on for three leases: the running run stays running, the other stays queued.
    await clock.advance(3 * TTL);
    const all = await runs(b);
    expect(all.map((r) => r.status).sort()).toEqual(['queued', 'running']);
    const first = all.find((r) => r.status === 'running');
    const second = all.find((r) => r.status === 'queued');
    expect(gate.order()).toEqual([`start ${first.id}`]);

    gate.release(first.id);
    await until(() => gate.order().length === 3, 10_000, 'the queued run to start');
    gate.release(second.id);
    await until(async () => (await statuses(a)).every((s) => s === 'succeeded'), 10_000, 'both runs to end');
    expect(gate.order()).toEqual([
      `start ${first.id}`,
      `end ${first.id}`,
      `start ${second.id}`,
      `end ${second.id}`,
    ]);
    const completed = [...a.emitted('PipelineCompleted'), ...b.emitted('PipelineCompleted')];
    expect(completed.map((e) => [e.data.runId, e.data.outcome]).sort()).toEqual(
      [
        [first.id, 'succeeded'],
        [second.id, 'succeeded'],
      ].sort(),
    );
  });

  it('concurrency: replace on one runner cancels the run going on another runner, at its next heartbeat', async () => {
    const file = gate.pipeline('replace');
    const a = await runner(0, file);
    const b = await runner(1, file);
    await trigger(a);
    const r1 = (await a.waitFor('PipelineStarted', undefined, 10_000)).data.runId as string;
    await until(() => gate.order().length === 1, 10_000, 'run 1 to start');
    await trigger(b);
    const r2 = await until<string | undefined>(
      async () => (await runs(b)).find((r) => r.id !== r1)?.id as string | undefined,
      5_000,
      'run 2 to be recorded',
    );
    expect(await statuses(b)).toEqual(['running', 'queued']);

    await clock.advance(BEAT);
    const cancelled = await a.waitFor('PipelineCompleted', (e) => e.data.runId === r1, 10_000);
    expect(cancelled.data).toMatchObject({
      outcome: 'cancelled',
      code: PipelineErrorCodes.CANCELLED,
      reason: `replaced by run ${r2}`,
    });
    await until(() => !alive(gate.pidOf(r1)), 5_000, "run 1's step to be killed");
    // The runner that held the slot goes on with the replacement.
    await until(() => gate.order().includes(`start ${r2}`), 10_000, 'run 2 to start');
    gate.release(r2);
    const done = await a.waitFor('PipelineCompleted', (e) => e.data.runId === r2, 10_000);
    expect(done.data.outcome).toBe('succeeded');
    expect(gate.order()).toEqual([`start ${r1}`, `start ${r2}`, `end ${r2}`]);
    expect(b.emitted('PipelineCompleted')).toEqual([]);
  });

  it('a runner cut off from the store: after its lease another runner ends its run as interrupted and runs its queue', async () => {
    const file = gate.pipeline();
    const a = await runner(0, file);
    const b = await runner(1, file);
    await trigger(a);
    await trigger(a);
    await until(() => gate.order().length === 1, 10_000, 'run 1 to start');
    await until(async () => (await statuses(b)).join() === 'running,queued', 5_000, 'run 2 queued');
    const [r1, r2] = (await runs(b)).map((r) => r.id) as [string, string];
    const aId = (await runs(b))[0].runner as string;

    store.cut(0);
    // Not yet: the lease holds until TTL after its last renewal. But the cut-off runner, unable to
    // renew, has stopped its step before then (killGrace + 1s before), writing nothing: by the time
    // another runner takes over, nothing of run 1 is running anywhere.
    await clock.advance(TTL - 1);
    await until(() => !alive(gate.pidOf(r1)), 5_000, "run 1's step on the cut-off runner to be killed");
    expect(await statuses(b)).toEqual(['running', 'queued']);
    expect(b.emitted('PipelineCompleted')).toEqual([]);

    await clock.advance(1);
    const interrupted = await b.waitFor('PipelineCompleted', (e) => e.data.runId === r1, 10_000);
    expect(interrupted.data).toMatchObject({
      outcome: 'failed',
      reason: 'interrupted',
      code: PipelineErrorCodes.INTERRUPTED,
      failedStage: 'work',
      failedStep: 'build',
    });
    await until(() => gate.order().includes(`start ${r2}`), 10_000, 'run 2 to start on the live runner');
    gate.release(r2);
    await b.waitFor('PipelineCompleted', (e) => e.data.runId === r2, 10_000);

    const [one, two] = await runs(b);
    expect(one).toMatchObject({ status: 'failed', reason: 'interrupted', runner: aId });
    expect(one.stages[0].steps[0].error.message).toContain(`runner ${aId} stopped or lost its lease`);
    expect(two).toMatchObject({ status: 'succeeded' });
    expect(two.runner).not.toBe(aId);
    expect(gate.order()).toEqual([`start ${r1}`, `start ${r2}`, `end ${r2}`]);
    expect(a.emitted('PipelineCompleted')).toEqual([]);

    // Back in touch, the old runner finds its lease gone, takes a new one and runs triggers again.
    store.restore(0);
    await clock.advance(BEAT);
    await trigger(a);
    const r3 = await until<string | undefined>(
      async () => (await runs(b))[2]?.id as string | undefined,
      5_000,
      'run 3',
    );
    await until(() => gate.order().includes(`start ${r3}`), 10_000, 'run 3 to start');
    gate.release(r3);
    await until(async () => (await runs(b))[2].status === 'succeeded', 10_000, 'run 3 to succeed');
    const three = (await runs(b))[2];
    expect(three.runner).not.toBe(aId);
    expect(three.runner).not.toBe(two.runner);
  });

  it("a starting runner leaves a live runner's run alone, however long it runs", async () => {
    const file = gate.pipeline();
    const a = await runner(0, file);
    await trigger(a);
    const r1 = (await a.waitFor('PipelineStarted', undefined, 10_000)).data.runId as string;
    await until(() => gate.order().length === 1, 10_000, 'run 1 to start');

    const b = await runner(1, file);
    await clock.advance(5 * TTL);
    const c = await runner(2, file);
    await clock.advance(5 * TTL);
    expect(await statuses(c)).toEqual(['running']);
    expect([...b.emitted('PipelineCompleted'), ...c.emitted('PipelineCompleted')]).toEqual([]);

    gate.release(r1);
    const done = await a.waitFor('PipelineCompleted', (e) => e.data.runId === r1, 10_000);
    expect(done.data.outcome).toBe('succeeded');
  });

  it('a run left running with no slot (by a version before slots) is ended as interrupted at start', async () => {
    const file = gate.pipeline();
    const a = await runner(0, file);
    await trigger(a);
    await until(() => gate.order().length === 1, 10_000, 'run 1 to start');
    await a.close();
    const kv = store.kv('plugin.pipeline');
    for (const key of await kv.keys())
      if (!key.startsWith('run/') && !key.startsWith('trigger/')) await kv.delete(key);

    const b = await runner(1, file);
    const done = await b.waitFor('PipelineCompleted', undefined, 10_000);
    expect(done.data).toMatchObject({ outcome: 'failed', reason: 'interrupted', failedStep: 'build' });
    // The slot is free again.
    await trigger(b);
    const r2 = await until<string | undefined>(
      async () => (await runs(b))[1]?.id as string | undefined,
      5_000,
      'run 2',
    );
    await until(() => gate.order().includes(`start ${r2}`), 10_000, 'run 2 to start');
  });

  it("a runner restarted on the same machine after a crash ends the crashed runner's run at once", async () => {
    const file = gate.pipeline();
    const a = await runner(0, file);
    await trigger(a);
    await trigger(a);
    await until(() => gate.order().length === 1, 10_000, 'run 1 to start');
    const [r1, r2] = (await runs(a)).map((r) => r.id) as [string, string];
    // A crash: the lease is not ended, and the process that held it is gone (a PID no longer in use).
    store.cut(0);
    await a.close();
    const kv = store.kv('plugin.pipeline');
    const registry = (await kv.get<Registry>('runners'))!.value;
    const crashed = Object.values(registry.runners)[0]!;
    expect(crashed.expiresAt).toBeGreaterThan(clock.now());
    crashed.pid = spawnSync('true').pid!;
    await kv.set('runners', registry);

    const b = await runner(1, file);
    const interrupted = await b.waitFor('PipelineCompleted', (e) => e.data.runId === r1, 10_000);
    expect(interrupted.data).toMatchObject({ outcome: 'failed', reason: 'interrupted' });
    await until(() => gate.order().includes(`start ${r2}`), 10_000, 'run 2 to start');
  });

  it('an orderly stop ends the lease at once: the next heartbeat of another runner takes over', async () => {
    const file = gate.pipeline();
    const a = await runner(0, file);
    const b = await runner(1, file);
    await trigger(a);
    await trigger(a);
    await until(() => gate.order().length === 1, 10_000, 'run 1 to start');
    await until(async () => (await statuses(b)).join() === 'running,queued', 5_000, 'run 2 queued');
    const [r1, r2] = (await runs(b)).map((r) => r.id) as [string, string];

    await a.close();
    expect(alive(gate.pidOf(r1))).toBe(false);
    expect(await statuses(b)).toEqual(['running', 'queued']);
    await clock.advance(BEAT);
    const interrupted = await b.waitFor('PipelineCompleted', (e) => e.data.runId === r1, 10_000);
    expect(interrupted.data).toMatchObject({ outcome: 'failed', reason: 'interrupted' });
    await until(() => gate.order().includes(`start ${r2}`), 10_000, 'run 2 to start on the other runner');
    gate.release(r2);
    await b.waitFor(
      'PipelineCompleted',
      (e) => e.data.runId === r2 && e.data.outcome === 'succeeded',
      10_000,
    );
  });
});
