// One Switchyard "runner" for bench/nats.ts: core's Bus on NatsTransport with one subscription
// shared with the other workers; a handler that does nothing. Prints "ready" once subscribed.
// TRANSPORT_MODULE (a file URL) loads NatsTransport from another build (A/B runs).
import { Bus, builtinEvents, EventRegistry } from '@switchyard/core';

const { NATS_URL, STREAM, CONCURRENCY = '64', TRANSPORT_MODULE } = process.env;
const { NatsTransport } = await import(TRANSPORT_MODULE ?? '@switchyard/transport-nats');
const transport = new NatsTransport({
  servers: [NATS_URL],
  stream: STREAM,
  name: `bench-worker-${process.pid}`,
});
await transport.open();
const registry = new EventRegistry();
for (const def of builtinEvents) registry.register(def);
const bus = new Bus({ transport, registry });
await bus.subscribe({
  id: 'bench',
  types: ['DeploymentCompleted'],
  concurrency: Number(CONCURRENCY),
  handler: () => {},
});
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await bus.stop({ deadlineMs: 1_000 });
  await transport.close({ deadlineMs: 1_000 });
  process.exit(0);
});
