import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '@switchyard/core';
import { findNatsServer, type NatsServer, startNatsServer } from '@switchyard/testing';
import { NatsTransport } from '@switchyard/transport-nats';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWorld, type Host, transitioned, until, type World } from './__fixtures__/setup.js';

// Two runners on a real nats-server -js: the trigger subscription is one durable consumer shared by
// both (each trigger goes to one of them), the plugin store is one JetStream KV bucket, and
// compare-and-set is the server's expected-revision check. Real time; a short lease.

const available = findNatsServer() !== undefined;
let server: NatsServer | undefined;
let world: World;
let gate: string;
let n = 0;

describe.skipIf(!available)('several runners on a real nats-server', () => {
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    world = await createWorld();
    gate = join(world.dir, 'gate');
    mkdirSync(gate);
    process.env.GATE_DIR = gate;
    n++;
  });
  afterEach(async () => {
    writeFileSync(join(gate, 'release-all'), '');
    await world.close();
    delete process.env.GATE_DIR;
  });

  function runner(file: string): Promise<Host> {
    const transport = new NatsTransport({
      servers: [server!.url],
      stream: `PIPE_${process.pid}_${n}`,
      name: 'pipeline-runners',
    });
    return world.host({ pipelines: [file], leaseTtl: '4s' }, { jira: false, clock: systemClock, transport });
  }

  function gated(): string {
    const wait =
      'echo "start $SWITCHYARD_RUN_ID" >> "$GATE_DIR/log"; ' +
      'while [ ! -e "$GATE_DIR/release-$SWITCHYARD_RUN_ID" ] && [ ! -e "$GATE_DIR/release-all" ]; do sleep 0.05; done; ' +
      'echo "end $SWITCHYARD_RUN_ID" >> "$GATE_DIR/log"';
    return world.file(
      'gate.yaml',
      `pipeline:
  name: gate
  triggers: [ { type: jira-issue, status: Ready for Development } ]
  stages: [ { name: work, steps: [ { type: build, command: '${wait}' } ] } ]
`,
    );
  }

  const order = (): string[] => {
    try {
      return readFileSync(join(gate, 'log'), 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };

  // Read by key only: these tests are about the slots, not the listing.
  const kv = (host: Host) => host.core.transport.kv('plugin.pipeline');
  const slot = async (host: Host) =>
    (await kv(host).get<{ holder?: { runner: string; runId: string }; queue: string[] }>('slot/gate/PROJ-1'))
      ?.value;
  const run = async (host: Host, id: string) => (await kv(host).get<any>(`run/${id}`))?.value;

  /** The runner id a host's pipeline plugin took its lease under. */
  function runnerId(host: Host): string {
    const line = host.logs.find((l) => String(l.msg ?? '').endsWith('took its lease'));
    return line!.runner as string;
  }

  it('triggers for one issue, taken by either runner, run one at a time', async () => {
    const file = gated();
    const a = await runner(file);
    const b = await runner(file);
    for (let i = 0; i < 4; i++) await a.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    await until(
      async () => (await slot(b))?.queue.length === 3,
      10_000,
      'one run holding the slot, three queued',
    );

    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const started = await until(
        () => order()[2 * i]?.replace('start ', ''),
        10_000,
        `run ${i + 1} to start`,
      );
      const now = (await slot(b))!;
      expect(now.holder!.runId).toBe(started);
      expect(now.queue).toHaveLength(3 - i);
      expect((await run(a, started)).status).toBe('running');
      ids.push(started);
      writeFileSync(join(gate, `release-${started}`), '');
      await until(() => order().includes(`end ${started}`), 10_000, `run ${i + 1} to end`);
    }
    // Never two at once: each start follows the previous run's end.
    expect(order()).toEqual(ids.flatMap((id) => [`start ${id}`, `end ${id}`]));
    expect(new Set(ids).size).toBe(4);
    for (const id of ids)
      await until(async () => (await run(b, id)).status === 'succeeded', 10_000, `run ${id} to succeed`);
    // The slot is free once the last run's runner handed it on (just after recording the run).
    await until(async () => (await slot(a))?.holder === undefined, 5_000, 'the slot to be free');
    expect(await slot(a)).toEqual({ queue: [] });
  });

  it('a stopped runner hands its running run (ended as interrupted) and its queue to the other', async () => {
    const file = gated();
    const a = await runner(file);
    const b = await runner(file);
    await a.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    const r1 = await until(() => order()[0]?.replace('start ', ''), 10_000, 'run 1 to start');
    await a.receive('IssueTransitioned', transitioned('PROJ-1', world.remote));
    const held = await until(
      async () => ((await slot(a))?.queue.length === 1 ? slot(a) : undefined),
      10_000,
      'run 2 queued',
    );
    const r2 = held.queue[0]!;
    const [holder, other] = held.holder!.runner === runnerId(a) ? [a, b] : [b, a];
    expect((await run(a, r1)).runner).toBe(runnerId(holder));

    await holder.close();
    await until(async () => (await run(other, r1)).status === 'failed', 10_000, 'run 1 to be interrupted');
    expect(await run(other, r1)).toMatchObject({ reason: 'interrupted', code: 'SY_PIPELINE_INTERRUPTED' });
    await until(() => order().includes(`start ${r2}`), 10_000, 'run 2 to start on the other runner');
    expect(await run(other, r2)).toMatchObject({ status: 'running', runner: runnerId(other) });
    writeFileSync(join(gate, `release-${r2}`), '');
    await until(async () => (await run(other, r2)).status === 'succeeded', 10_000, 'run 2 to succeed');
    expect(order()).toEqual([`start ${r1}`, `start ${r2}`, `end ${r2}`]);
  });
});
