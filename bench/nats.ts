// NATS JetStream transport throughput, end to end: events published through core's Bus on
// NatsTransport (waits for the stream's ack), handled by 1 or 2 worker processes sharing one
// durable subscription (ack after the handler + a delivery record), next to the raw
// @nats-io/jetstream publish → pull consume → ack rate on the same server in the same run.
// Run after `pnpm build`:  node bench/nats.ts [events]
//
// CPU time per event of nats-server, the publisher and the workers is printed for each row (from
// /proc on Linux): on a shared machine it moves far less with the load than events/s does.
// BENCH_NATS_COMPARE=<path of another build's dist/index.js> runs every Switchyard row for both
// builds, interleaved, against the same server (A/B in one run). Make that build with e.g.
// `git worktree add`, or copy packages/transport-nats/dist to /tmp/old/dist and link
// /tmp/old/node_modules to packages/transport-nats/node_modules so its imports resolve.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Bus, builtinEvents, EventRegistry } from '@switchyard/core';
import { startNatsServer } from '@switchyard/testing';
import { NatsTransport } from '@switchyard/transport-nats';
import { machine, printTable } from './lib.ts';

const EVENTS = Number(process.argv[2] ?? 20_000);
const IN_FLIGHT = 500;
const WORKER_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const COMPARE = process.env.BENCH_NATS_COMPARE;
const worker = fileURLToPath(new URL('./nats-worker.mjs', import.meta.url));
const data = {
  service: 'payments',
  environment: 'production',
  version: '1.4.2',
  outcome: 'succeeded' as const,
  issueKeys: ['PROJ-123'],
};

type TransportClass = typeof NatsTransport;
interface Build {
  label: string;
  /** Module the workers import NatsTransport from; undefined = the workspace package. */
  module: string | undefined;
  NatsTransport: TransportClass;
}

const server = await startNatsServer({ jetstream: true });
const children: ChildProcess[] = [];

/** CPU time (user + system, ms) of a process, from /proc; 0 where /proc is missing. */
function cpuMs(pid: number): number {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime in ticks
  } catch {
    return 0;
  }
}

interface CpuSample {
  server: number;
  publisher: number;
  workers: number;
}

function sampleCpu(workers: ChildProcess[]): CpuSample {
  return {
    server: cpuMs(server.pid),
    publisher: cpuMs(process.pid),
    workers: workers.reduce((sum, w) => sum + cpuMs(w.pid!), 0),
  };
}

/** µs of CPU per event between two samples. */
function perEvent(a: CpuSample, b: CpuSample): CpuSample {
  const us = (x: number, y: number) => ((y - x) * 1000) / EVENTS;
  return {
    server: us(a.server, b.server),
    publisher: us(a.publisher, b.publisher),
    workers: us(a.workers, b.workers),
  };
}

async function window(total: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

/** Raw client: publish with 500 in flight while a durable pull consumer consumes and acks. */
async function raw(): Promise<{ publish: number; e2e: number; cpu: CpuSample }> {
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
  const before = sampleCpu([]);
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
  const cpu = perEvent(before, sampleCpu([]));
  await nc.drain();
  return { publish: EVENTS / ((published - start) / 1000), e2e: EVENTS / ((end - start) / 1000), cpu };
}

function startWorker(build: Build, stream: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [worker], {
    env: {
      ...process.env,
      NATS_URL: server.url,
      STREAM: stream,
      CONCURRENCY: String(WORKER_CONCURRENCY),
      ...(build.module ? { TRANSPORT_MODULE: build.module } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench worker exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
  });
}

/** Waits until the shared consumer has acked `total` events (polls consumer info). */
async function drained(stream: string, total: number): Promise<void> {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const info = await jsm.consumers.info(stream, 'bench');
    if (info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= total) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await nc.close();
}

interface Row {
  publish: number;
  e2e: number;
  drain: number;
  cpu: CpuSample;
}

/** Switchyard: publish through the Bus while `workers` processes handle; and a backlog drain. */
let runs = 0;
async function switchyard(build: Build, workers: number): Promise<Row> {
  const stream = `BENCH_${++runs}`;
  const transport = new build.NatsTransport({ servers: [server.url], stream, name: 'bench-publisher' });
  await transport.open();
  const registry = new EventRegistry();
  for (const def of builtinEvents) registry.register(def);
  const bus = new Bus({ transport, registry });
  const procs = await Promise.all(Array.from({ length: workers }, () => startWorker(build, stream)));
  // 1) concurrent: publish and handle at the same time.
  const before = sampleCpu(procs);
  const start = performance.now();
  await window(EVENTS, () => bus.publish('DeploymentCompleted', data));
  const published = performance.now();
  await drained(stream, EVENTS);
  const end = performance.now();
  const cpu = perEvent(before, sampleCpu(procs));
  // 2) backlog: stop the workers, publish EVENTS more, start them, time the drain alone.
  await Promise.all(procs.map((p) => stopWorker(p)));
  await window(EVENTS, () => bus.publish('DeploymentCompleted', data));
  const drainStart = performance.now();
  const again = await Promise.all(Array.from({ length: workers }, () => startWorker(build, stream)));
  await drained(stream, 2 * EVENTS);
  const drainEnd = performance.now();
  await Promise.all(again.map((p) => stopWorker(p)));
  await transport.close();
  return {
    publish: EVENTS / ((published - start) / 1000),
    e2e: EVENTS / ((end - start) / 1000),
    drain: EVENTS / ((drainEnd - drainStart) / 1000),
    cpu,
  };
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
  const builds: Build[] = [{ label: '', module: undefined, NatsTransport }];
  if (COMPARE) {
    const url = pathToFileURL(COMPARE).href;
    const other = (await import(url)) as { NatsTransport: TransportClass };
    builds.unshift({ label: ' [compare]', module: url, NatsTransport: other.NatsTransport });
  }
  const r = await raw();
  const rows: [string, Row][] = [];
  for (const workers of [1, 2]) {
    for (const build of builds) {
      const name =
        workers === 1
          ? `Switchyard, 1 runner (concurrency ${WORKER_CONCURRENCY})`
          : `Switchyard, 2 runners (concurrency ${WORKER_CONCURRENCY} each)`;
      rows.push([`${name}${build.label}`, await switchyard(build, workers)]);
    }
  }
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const pct = (n: number) => `${Math.round((n / r.e2e) * 100)}%`;
  const cpu = (c: CpuSample) => `${f(c.server)} / ${f(c.publisher)} / ${f(c.workers)}`;
  printTable(
    [
      'run',
      'publish ev/s',
      'publish→handled ev/s',
      'backlog drain ev/s',
      'e2e vs raw',
      'CPU µs/event server / publisher / workers',
    ],
    [
      [
        'raw @nats-io/jetstream (publish 500 in flight, consume+ack)',
        f(r.publish),
        f(r.e2e),
        '—',
        '100%',
        `${f(r.cpu.server)} / ${f(r.cpu.publisher)} (pub+consume)`,
      ],
      ...rows.map(([name, row]) => [
        name,
        f(row.publish),
        f(row.e2e),
        f(row.drain),
        pct(row.e2e),
        cpu(row.cpu),
      ]),
    ],
  );
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await server.stop();
}
