// In-memory bus throughput: publish → deliver with schema validation and envelope creation, with 1
// and 4 subscribers, next to raw eventemitter3 emit → listener in the same run.
// Run after `pnpm build`:  node bench/bus.ts [events]

import { createCore } from '@switchyard/core';
import { EventEmitter } from 'eventemitter3';
import { machine, median, printTable } from './lib.ts';

const EVENTS = Number(process.argv[2] ?? 200_000);
const RUNS = 5;
const data = {
  service: 'payments',
  environment: 'production',
  version: '1.4.2',
  outcome: 'succeeded' as const,
  issueKeys: ['PROJ-123'],
};

async function busRun(subscribers: number, concurrency: number): Promise<number> {
  const core = createCore();
  let delivered = 0;
  const target = EVENTS * subscribers;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  for (let s = 0; s < subscribers; s++) {
    await core.bus.subscribe({
      id: `bench-${s}`,
      types: ['DeploymentCompleted'],
      concurrency,
      handler: () => {
        if (++delivered === target) done();
      },
    });
  }
  const start = performance.now();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < EVENTS; i++) {
    batch.push(core.bus.publish('DeploymentCompleted', data));
    if (batch.length === 1000) {
      await Promise.all(batch);
      batch.length = 0;
    }
  }
  await Promise.all(batch);
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await core.transport.close();
  return EVENTS / seconds;
}

function rawRun(subscribers: number): number {
  const emitter = new EventEmitter();
  let delivered = 0;
  for (let s = 0; s < subscribers; s++) emitter.on('DeploymentCompleted', () => void delivered++);
  const n = EVENTS * 20;
  const start = performance.now();
  for (let i = 0; i < n; i++) emitter.emit('DeploymentCompleted', data);
  const seconds = (performance.now() - start) / 1000;
  if (delivered !== n * subscribers) throw new Error('raw emitter lost events');
  return n / seconds;
}

const rows: string[][] = [];
for (const [subs, conc] of [
  [1, 1],
  [1, 64],
  [4, 1],
  [4, 64],
] as const) {
  const bus: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    bus.push(await busRun(subs, conc));
    raw.push(rawRun(subs));
  }
  const b = median(bus);
  const e = median(raw);
  rows.push([
    `${subs}`,
    `${conc}`,
    Math.round(b).toLocaleString('en'),
    Math.round(e).toLocaleString('en'),
    `${((b / e) * 100).toFixed(2)} %`,
  ]);
}
console.log(`bus bench: ${EVENTS} events per run, median of ${RUNS} runs; ${machine()}`);
printTable(['subscribers', 'concurrency', 'bus events/s', 'eventemitter3 emits/s', 'bus / raw'], rows);
