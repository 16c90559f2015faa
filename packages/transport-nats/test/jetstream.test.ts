// What the NATS transport promises beyond the generic conformance suite, checked on a real
// nats-server: delivery keys become Nats-Msg-Id headers (JetStream's duplicate window dedupes ingest
// retries), a handler running several ack-waits long is kept in progress and never handed to a
// second runner, and two runners sharing a subscription split the events without handling one twice.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Bus, builtinEvents, EventRegistry } from '@switchyard/core';
import { eventually, findNatsServer, type NatsServer, startNatsServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsTransport } from '../src/index.js';

const deployment = (version: string) => ({
  service: 'api',
  environment: 'dev',
  version,
  outcome: 'succeeded' as const,
  issueKeys: [],
});

function newBus(transport: NatsTransport): Bus {
  const registry = new EventRegistry();
  for (const def of builtinEvents) registry.register(def);
  return new Bus({ transport, registry });
}

describe.skipIf(findNatsServer() === undefined)('JetStream specifics on a real nats-server', () => {
  let server: NatsServer;
  const open: Array<{ bus: Bus; transport: NatsTransport }> = [];

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    for (const { bus, transport } of open) {
      await bus.stop({ deadlineMs: 500 }).catch(() => {});
      await transport.close({ deadlineMs: 500 }).catch(() => {});
    }
    await server?.stop();
  });

  async function runner(stream: string, name: string, ackWaitMs?: number) {
    const transport = new NatsTransport({
      servers: [server.url],
      stream,
      name,
      ...(ackWaitMs ? { ackWaitMs } : {}),
    });
    await transport.open();
    const bus = newBus(transport);
    open.push({ bus, transport });
    return { bus, transport };
  }

  it('stores the delivery key as Nats-Msg-Id, so a retried ingest is one message in the stream', async () => {
    const { bus, transport } = await runner('MSGID', 'msgid');
    const first = await bus.publish('DeploymentCompleted', deployment('1'), { deliveryKey: 'ci:build:42' });
    const again = await bus.publish('DeploymentCompleted', deployment('1'), { deliveryKey: 'ci:build:42' });
    expect(again.duplicate).toBe(true);
    expect(again.event.id).toBe(first.event.id);

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(transport.names.stream);
      expect(info.state.messages).toBe(1);
      const stored = await jsm.streams.getMessage(transport.names.stream, { seq: info.state.first_seq });
      expect(stored?.header?.get('Nats-Msg-Id')).toBe('ci:build:42');
      expect(stored?.json<{ id: string }>().id).toBe(first.event.id);
    } finally {
      await nc.close();
    }
  });

  it('writes one message per event, under its type, correlation and id, and nothing else on append', async () => {
    const { bus, transport } = await runner('ONEWRITE', 'onewrite');
    const root = (await bus.publish('DeploymentCompleted', deployment('1'))).event;
    const child = (await bus.publish('DeploymentCompleted', deployment('2'), { cause: root })).event;

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const subjects = (await jsm.streams.info(transport.names.stream, { subjects_filter: '>' })).state
        .subjects;
      // The prefix of a stream other than the default one is the stream name.
      expect(subjects).toEqual({
        [`ONEWRITE.events.DeploymentCompleted.${root.id}.${root.id}`]: 1,
        [`ONEWRITE.events.DeploymentCompleted.${root.id}.${child.id}`]: 1,
      });
      // No other stream or bucket grows with appends (the KV buckets hold delivery records,
      // idempotency records and plugin state only).
      for await (const info of jsm.streams.list()) {
        if (info.config.name.includes('ONEWRITE') && info.config.name !== transport.names.stream) {
          expect([info.config.name, info.state.messages]).toEqual([info.config.name, 0]);
        }
      }
    } finally {
      await nc.close();
    }
    // A second runner finds both from the subjects alone.
    const other = await runner('ONEWRITE', 'onewrite-2');
    expect(await other.transport.get(child.id)).toEqual(child);
    expect((await other.transport.trace(root.id))?.map((e) => e.id)).toEqual([root.id, child.id]);
  });

  it('keeps a handler that runs 3.5 ack-waits in progress: one delivery, no other runner gets it', async () => {
    const ackWaitMs = 2_000;
    const a = await runner('LONG', 'long-a', ackWaitMs);
    const b = await runner('LONG', 'long-b', ackWaitMs);
    const deliveries: Array<{ runner: string; attempt: number }> = [];
    let finished = 0;
    for (const [name, r] of [
      ['a', a],
      ['b', b],
    ] as const) {
      await r.bus.subscribe({
        id: 'metric-gate',
        types: ['DeploymentCompleted'],
        timeoutMs: 60_000,
        handler: async (_event, ctx) => {
          deliveries.push({ runner: name, attempt: ctx.attempt });
          await new Promise((resolve) => setTimeout(resolve, ackWaitMs * 3.5));
          finished++;
        },
      });
    }
    const { event } = await a.bus.publish('DeploymentCompleted', deployment('slow'));
    await eventually(async () => (finished === 1 ? true : undefined), 20_000, 100);
    // Give a redelivery (had the in-progress acks stopped) time to show up.
    await new Promise((resolve) => setTimeout(resolve, ackWaitMs * 1.5));
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.attempt).toBe(1);
    const trace = await a.transport.deliveries(event.id);
    expect(trace.map((d) => [d.subscription, d.status, d.attempts])).toEqual([
      ['metric-gate', 'succeeded', 1],
    ]);
  }, 40_000);

  it('two runners on one subscription split the events and handle each exactly once', async () => {
    const a = await runner('SPLIT', 'split-a');
    const b = await runner('SPLIT', 'split-b');
    const handled = new Map<string, string[]>();
    for (const [name, r] of [
      ['a', a],
      ['b', b],
    ] as const) {
      await r.bus.subscribe({
        id: 'split',
        types: ['DeploymentCompleted'],
        concurrency: 4,
        handler: async (event) => {
          handled.set(event.id, [...(handled.get(event.id) ?? []), name]);
          await new Promise((resolve) => setTimeout(resolve, 5));
        },
      });
    }
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const { event } = await (i % 2 ? a : b).bus.publish('DeploymentCompleted', deployment(String(i)));
      ids.push(event.id);
    }
    await eventually(async () => (handled.size === ids.length ? true : undefined), 20_000, 50);
    expect([...handled.keys()].sort()).toEqual([...ids].sort());
    expect([...handled.values()].filter((by) => by.length > 1)).toEqual([]);
    const byA = [...handled.values()].filter((by) => by[0] === 'a').length;
    // Both runners pulled work (each has 4 slots and handlers take 5 ms, so neither can take all).
    expect(byA).toBeGreaterThan(0);
    expect(byA).toBeLessThan(ids.length);
  }, 40_000);

  it('lists KV keys once each while other runners keep writing to the bucket', async () => {
    const a = await runner('KEYS', 'keys-a');
    const b = await runner('KEYS', 'keys-b');
    const kvA = a.transport.kv('pipeline');
    const kvB = b.transport.kv('pipeline');
    const keys = Array.from({ length: 50 }, (_, i) => `run/${String(i).padStart(3, '0')}`);
    for (const key of keys) await kvA.set(key, { n: 0 });
    await kvA.set('gone', 1);
    await kvA.delete('gone');
    let writing = true;
    const writer = (async () => {
      for (let n = 1; writing; n++) await Promise.all(keys.slice(0, 10).map((k) => kvB.set(k, { n })));
    })();
    try {
      for (let i = 0; i < 5; i++) {
        expect(await kvA.keys('run/')).toEqual(keys);
        expect(await kvA.keys()).toEqual(keys);
      }
    } finally {
      writing = false;
      await writer;
    }
  }, 40_000);
});
