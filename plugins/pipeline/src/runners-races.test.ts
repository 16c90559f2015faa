import { type KeyValueStore, MemoryTransport } from '@switchyard/core';
import { ManualClock } from '@switchyard/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Gate } from './__fixtures__/gate.js';
import {
  createWorld,
  type Host,
  sharedStore,
  transitioned,
  until,
  type World,
} from './__fixtures__/setup.js';
import type { SlotRecord } from './leases.js';
import type { RunRecord } from './store.js';

// Interleavings of runners sharing one store that the other suites cannot time: another runner's
// write is made to land at the exact moment between this runner's read and its write.

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

/** A runner on the shared store whose store calls pass through `hook` first. */
function runner(file: string, hook: (kv: KeyValueStore) => KeyValueStore = (kv) => kv): Promise<Host> {
  const transport = new MemoryTransport({ clock });
  transport.kv = (namespace: string) => hook(store.kv(namespace));
  return world.host({ pipelines: [file] }, { jira: false, clock, transport });
}

const kv = () => store.kv('plugin.pipeline');
const slot = async () => (await kv().get<SlotRecord>('slot/gate/PROJ-1'))?.value;
const run = async (id: string) => (await kv().get<RunRecord>(`run/${id}`))?.value;
const trigger = (host: Host) => host.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));

describe('runners racing on one store', () => {
  it('a queued run ended by another runner just as this runner starts it does not strand the slot', async () => {
    // Runner B's `concurrency: replace` drops a queued run (records it cancelled) at the moment
    // runner A, handed the slot for that run, writes it as started: A's write loses the race.
    let cancelNext: string | undefined;
    const a = await runner(gate.pipeline('queue'), (inner) => ({
      ...inner,
      get: (key) => inner.get(key),
      set: (key, value) => inner.set(key, value),
      delete: (key) => inner.delete(key),
      keys: (prefix) => inner.keys(prefix),
      async compareAndSet(key, value, revision) {
        const record = value as RunRecord;
        if (key === `run/${cancelNext}` && record.status === 'queued' && record.runner) {
          cancelNext = undefined;
          await inner.set(key, {
            ...record,
            runner: undefined,
            status: 'cancelled',
            reason: 'replaced (test)',
          });
        }
        return inner.compareAndSet(key, value, revision);
      },
    }));
    await trigger(a);
    await trigger(a);
    await until(async () => (await slot())?.queue.length === 1, 10_000, 'run 2 queued');
    const r1 = (await slot())!.holder!.runId;
    const r2 = (await slot())!.queue[0]!;
    await until(() => gate.order().includes(`start ${r1}`), 10_000, 'run 1 to start');
    cancelNext = r2;
    gate.release(r1);
    await until(async () => (await run(r1))?.status === 'succeeded', 10_000, 'run 1 to succeed');
    await until(() => cancelNext === undefined, 10_000, 'run 2 to be cancelled as it starts');
    expect((await run(r2))?.status).toBe('cancelled');

    // The slot goes on: the next trigger for the issue runs.
    await until(async () => (await slot())?.holder?.runId !== r2, 5_000, 'the slot to be handed on');
    await trigger(a);
    const r3 = await until(
      async () => (await slot())?.holder?.runId as string | undefined,
      5_000,
      'run 3 to hold the slot',
    );
    await until(() => gate.order().includes(`start ${r3}`), 10_000, 'run 3 to start');
    expect(gate.order()).not.toContain(`start ${r2}`);
  });

  it('a run that ended after a starting runner listed it is not queued again (nor replaces the running one)', async () => {
    const file = gate.pipeline('replace');
    const a = await runner(file);
    await trigger(a);
    const r1 = await until(async () => (await slot())?.holder?.runId, 10_000, 'run 1 to hold the slot');
    await until(() => gate.order().includes(`start ${r1}`), 10_000, 'run 1 to start');
    gate.release(r1);
    await until(async () => (await run(r1))?.status === 'succeeded', 10_000, 'run 1 to succeed');
    await until(async () => (await slot())?.holder === undefined, 5_000, 'the slot to be free');
    await trigger(a);
    const r2 = await until(
      async () => ((await slot())?.holder?.runId !== r1 ? (await slot())?.holder?.runId : undefined),
      10_000,
      'run 2 to hold the slot',
    );
    await until(() => gate.order().includes(`start ${r2}`), 10_000, 'run 2 to start');

    // Runner C starts and lists the runs while run 1 was still queued (its listing is older than
    // the slot it reads next): the first read of run 1 returns that older copy.
    const done = (await run(r1))!;
    const older: RunRecord = { ...done, status: 'queued' };
    for (const k of ['outcome', 'finishedAt', 'durationMs', 'startedAt', 'started', 'runner'] as const)
      delete older[k];
    let stale = true;
    const c = await runner(file, (inner) => ({
      ...inner,
      set: (key, value) => inner.set(key, value),
      compareAndSet: (key, value, revision) => inner.compareAndSet(key, value, revision),
      delete: (key) => inner.delete(key),
      keys: (prefix) => inner.keys(prefix),
      async get<T>(key: string) {
        if (key === `run/${r1}` && stale) {
          stale = false;
          const entry = await inner.get<T>(key);
          return entry && { ...entry, value: older as T };
        }
        return inner.get<T>(key);
      },
    }));
    await until(() => !stale, 5_000, 'runner C to list the runs');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Heartbeats, which would carry a cancel request to run 2's runner.
    await clock.advance(30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(await slot()).toMatchObject({ holder: { runId: r2 }, queue: [] });
    expect((await run(r2))?.status).toBe('running');
    expect(
      [...a.emitted('PipelineCompleted'), ...c.emitted('PipelineCompleted')].map((e) => e.data.runId),
    ).toEqual([r1]);
  });
});
