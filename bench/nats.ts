// NATS JetStream transport throughput, end to end: events published through core's Bus on
// NatsTransport (stream ack + index entries), handled by 1 or 2 worker processes sharing one
// durable subscription (ack after the handler + a delivery record), next to the raw
// @nats-io/jetstream publish → pull consume → ack rate on the same server in the same run.
// Run after `pnpm build`:  node bench/nats.ts [events]

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Bus, builtinEvents, EventRegistry } from '@switchyard/core';
import { startNatsServer } from '@switchyard/testing';
import { NatsTransport } from '@switchyard/transport-nats';
import { machine, printTable } from './lib.ts';

const EVENTS = Number(process.argv[2] ?? 20_000);
const IN_FLIGHT = 500;
const WORKER_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const worker = fileURLToPath(new URL('./nats-worker.mjs', import.meta.url));
const data = {
  service: 'payments',
  environment: 'production',
  version: '1.4.2',
  outcome: 'succeeded' as const,
  issueKeys: ['PROJ-123'],
};

const server = await startNatsServer({ jetstream: true });
const children: ChildProcess[] = [];

async function window(total: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

/** Raw client: publish with 500 in flight while a durable pull consumer consumes and acks. */
async function raw(): Promise<{ publish: number; e2e: number }> {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'RAW', subjects: ['raw.>'] });
  await jsm.consumers.add('RAW', {
    durable_name: 'raw',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  const consumer = await js.consumers.get('RAW', 'raw');
  const payload = JSON.stringify({ specversion: '1.0', id: 'x', type: 'DeploymentCompleted', data });
  let acked = 0;
  const start = performance.now();
  const consumed = (async () => {
    const messages = await consumer.consume({ max_messages: 1_000 });
    for await (const m of messages) {
      m.ack();
      if (++acked === EVENTS) break;
    }
  })();
  await window(EVENTS, (i) => js.publish('raw.events.DeploymentCompleted', payload, { msgID: `raw-${i}` }));
  const published = performance.now();
  await consumed;
  const end = performance.now();
  await nc.drain();
  return { publish: EVENTS / ((published - start) / 1000), e2e: EVENTS / ((end - start) / 1000) };
}

function startWorker(stream: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [worker], {
    env: { ...process.env, NATS_URL: server.url, STREAM: stream, CONCURRENCY: String(WORKER_CONCURRENCY) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench worker exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
  });
}

/** Waits until the shared consumer has acked every event (polls consumer info). */
async function drained(stream: string): Promise<void> {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const info = await jsm.consumers.info(stream, 'bench');
    if (info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= EVENTS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await nc.close();
}

/** Switchyard: publish through the Bus while `workers` processes handle; and a backlog drain. */
async function switchyard(workers: number): Promise<{ publish: number; e2e: number; drain: number }> {
  const stream = `BENCH_${workers}`;
  const transport = new NatsTransport({ servers: [server.url], stream, name: 'bench-publisher' });
  await transport.open();
  const registry = new EventRegistry();
  for (const def of builtinEvents) registry.register(def);
  const bus = new Bus({ transport, registry });
  const procs = await Promise.all(Array.from({ length: workers }, () => startWorker(stream)));
  // 1) concurrent: publish and handle at the same time.
  const start = performance.now();
  await window(EVENTS, () => bus.publish('DeploymentCompleted', data));
  const published = performance.now();
  await drained(stream);
  const end = performance.now();
  // 2) backlog: stop the workers, publish EVENTS more, start them, time the drain alone.
  await Promise.all(procs.map((p) => stopWorker(p)));
  await window(EVENTS, () => bus.publish('DeploymentCompleted', data));
  const drainStart = performance.now();
  const again = await Promise.all(Array.from({ length: workers }, () => startWorker(stream)));
  await drainedTwice(stream);
  const drainEnd = performance.now();
  await Promise.all(again.map((p) => stopWorker(p)));
  await transport.close();
  return {
    publish: EVENTS / ((published - start) / 1000),
    e2e: EVENTS / ((end - start) / 1000),
    drain: EVENTS / ((drainEnd - drainStart) / 1000),
  };
}

async function drainedTwice(stream: string): Promise<void> {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const info = await jsm.consumers.info(stream, 'bench');
    if (info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= 2 * EVENTS)
      break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await nc.close();
}

function stopWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

try {
  console.log(`NATS transport benchmark: ${machine()}, ${EVENTS} events, nats-server ${server.url}`);
  const r = await raw();
  const one = await switchyard(1);
  const two = await switchyard(2);
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const pct = (n: number) => `${Math.round((n / r.e2e) * 100)}%`;
  printTable(
    ['run', 'publish ev/s', 'publish→handled ev/s', 'backlog drain ev/s', 'e2e vs raw'],
    [
      ['raw @nats-io/jetstream (publish 500 in flight, consume+ack)', f(r.publish), f(r.e2e), '—', '100%'],
      [
        `Switchyard, 1 runner (concurrency ${WORKER_CONCURRENCY})`,
        f(one.publish),
        f(one.e2e),
        f(one.drain),
        pct(one.e2e),
      ],
      [
        `Switchyard, 2 runners (concurrency ${WORKER_CONCURRENCY} each)`,
        f(two.publish),
        f(two.e2e),
        f(two.drain),
        pct(two.e2e),
      ],
    ],
  );
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await server.stop();
}
