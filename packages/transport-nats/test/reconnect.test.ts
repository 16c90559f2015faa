import { Bus, builtinEvents, EventRegistry } from '@switchyard/core';
import { eventually, findNatsServer, type NatsServer, startNatsServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsTransport } from '../src/index.js';

describe.skipIf(findNatsServer() === undefined)('reconnect after a nats-server restart', () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('reports not ok while the server is down, reconnects, and keeps delivering', async () => {
    const transport = new NatsTransport({
      servers: [server.url],
      stream: 'RECONNECT',
      name: 'reconnect-test',
    });
    await transport.open();
    const registry = new EventRegistry();
    for (const def of builtinEvents) registry.register(def);
    const bus = new Bus({ transport, registry });
    const seen: string[] = [];
    try {
      await bus.subscribe({
        id: 'reconnect',
        types: ['DeploymentCompleted'],
        handler: (e) => void seen.push((e.data as { version: string }).version),
      });
      const deploy = (version: string) =>
        bus.publish('DeploymentCompleted', {
          service: 'api',
          environment: 'dev',
          version,
          outcome: 'succeeded',
          issueKeys: [],
        });
      await deploy('before');
      await eventually(async () => (seen.includes('before') ? true : undefined), 5_000);
      expect((await transport.health()).ok).toBe(true);

      await server.restart(async () => {
        const down = await eventually(async () => {
          const h = await transport.health();
          return h.ok ? undefined : h;
        }, 10_000);
        expect(down.detail).toMatch(/disconnected|did not answer|closed/);
      });

      await eventually(async () => ((await transport.health()).ok ? true : undefined), 15_000, 100);
      await deploy('after');
      await eventually(async () => (seen.includes('after') ? true : undefined), 15_000, 100);
      // The event handled before the restart was acked and stays handled once.
      expect(seen.filter((v) => v === 'before')).toHaveLength(1);
      expect(
        (await transport.query({ type: 'DeploymentCompleted' })).map(
          (e) => (e.data as { version: string }).version,
        ),
      ).toEqual(['before', 'after']);
    } finally {
      await bus.stop({ deadlineMs: 500 });
      await transport.close({ deadlineMs: 500 });
    }
  }, 60_000);
});
