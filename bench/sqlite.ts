// SQLite transport benchmark: durable publish and publish→deliver with 1 and 8 concurrent
// publishers, raw better-sqlite3 batched inserts in the same run for comparison, and trace() on a
// store holding 1M events. Run after `pnpm build`: node bench/sqlite.ts [--quick]
//   BENCH_BASE=/path/to/other/checkout (built) runs that tree's store in the same run, each row
//   alternating between the two (A/B), for before/after comparisons on a shared machine.
//   BENCH_ROUNDS=3 repeats every row (medians reported).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEnvelope, type SwitchyardEvent } from '@switchyard/core';
import { SqliteTransport } from '@switchyard/store-sqlite';
import Database from 'better-sqlite3';

type Store = typeof SqliteTransport;
const BASE = process.env.BENCH_BASE;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const stores: Array<[string, Store]> = [['this tree', SqliteTransport]];
if (BASE) {
  const mod = (await import(join(BASE, 'packages/store-sqlite/dist/index.js'))) as { SqliteTransport: Store };
  stores.unshift(['base', mod.SqliteTransport]);
}
const quick = process.argv.includes('--quick');
const N = quick ? 5_000 : 40_000;
const TRACE_EVENTS = quick ? 100_000 : 1_000_000;
const dir = mkdtempSync(join(tmpdir(), 'sy-bench-sqlite-'));
let dbCount = 0;
const nextPath = () => join(dir, `b${dbCount++}.db`);

const data = {
  service: 'api',
  environment: 'production',
  version: '1.42.0',
  outcome: 'succeeded',
  issueKeys: ['PROJ-1'],
};
const event = (i: number): SwitchyardEvent =>
  createEnvelope({
    type: 'DeploymentCompleted',
    data: { ...data, n: i },
    source: 'bench',
    subject: `PROJ-${i % 500}`,
  });

function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

/** Raw better-sqlite3: the same JSON bodies, 1,000-row WAL transactions, synchronous FULL. */
function raw(): number {
  const db = new Database(nextPath());
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT, body TEXT)');
  const insert = db.prepare('INSERT INTO events (id, type, body) VALUES (?, ?, ?)');
  const batch = db.transaction((events: SwitchyardEvent[]) => {
    for (const e of events) insert.run(e.id, e.type, JSON.stringify(e));
  });
  const events = Array.from({ length: N }, (_, i) => event(i));
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) batch(events.slice(i, i + 1000));
  const ms = performance.now() - t0;
  db.close();
  return rate(N, ms);
}

async function publish(
  Store: Store,
  publishers: number,
  deliver: boolean,
  synchronous: 'full' | 'normal' = 'full',
): Promise<{ rate: number; perCommit: number }> {
  const t = new Store({ path: nextPath(), synchronous });
  await t.open();
  let delivered = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => {
    done = r;
  });
  if (deliver) {
    await t.consume(
      {
        id: 'bench',
        types: ['*'],
        maxAttempts: 3,
        backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 },
        timeoutMs: 30_000,
        concurrency: 16,
      },
      async () => {
        if (++delivered === N) done();
        return { ok: true };
      },
    );
  }
  const events = Array.from({ length: N }, (_, i) => event(i));
  const commits0 = t.commits;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (next < N) await t.append(events[next++]!);
    }),
  );
  if (deliver) await all;
  const ms = performance.now() - t0;
  const perCommit = N / Math.max(1, t.commits - commits0);
  await t.close();
  return { rate: rate(N, ms), perCommit: Math.round(perCommit * 10) / 10 };
}

/** Fills a store with TRACE_EVENTS events in chains of 10 (root + causes), then times trace(). */
async function traceAt(): Promise<{ median: number; p99: number; fillS: number }> {
  const path = nextPath();
  const t0 = performance.now();
  const seed = new SqliteTransport({ path });
  await seed.open();
  await seed.close();
  // Bulk load with the transport's own schema and indexes (appending 1M through the API is the
  // publish benchmark's job, and would only make this one slow to set up).
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    'INSERT INTO events (id, type, subject, time_ms, correlation_id, delivery_key, body) VALUES (?, ?, ?, ?, ?, NULL, ?)',
  );
  const base = Date.parse('2026-11-01T00:00:00Z');
  const load = db.transaction((from: number, to: number) => {
    let root: SwitchyardEvent | undefined;
    for (let i = from; i < to; i++) {
      const cause = i % 10 === 0 ? undefined : root;
      const e = createEnvelope(
        { type: 'StageCompleted', data: { n: i }, source: 'bench', subject: `PROJ-${i % 5000}`, cause },
        base + i,
      );
      if (i % 10 === 0 || i % 3 === 0) root = e; // chains that branch and deepen
      insert.run(e.id, e.type, e.subject ?? null, base + i, e.correlationid, JSON.stringify(e));
    }
  });
  for (let i = 0; i < TRACE_EVENTS; i += 10_000) load(i, Math.min(TRACE_EVENTS, i + 10_000));
  const ids = db
    .prepare('SELECT id FROM events WHERE seq % 997 = 0 LIMIT 200')
    .all()
    .map((r) => (r as { id: string }).id);
  db.close();
  const fillS = Math.round((performance.now() - t0) / 100) / 10;
  const t = new SqliteTransport({ path });
  await t.open();
  await t.trace(ids[0]!); // warm the page cache as a running daemon would have it
  const times: number[] = [];
  for (const id of ids) {
    const s = performance.now();
    const chain = await t.trace(id);
    times.push(performance.now() - s);
    if (!chain || chain.length === 0) throw new Error(`trace(${id}) found nothing`);
  }
  await t.close();
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 100) / 100;
  return { median: at(0.5), p99: at(0.99), fillS };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

try {
  const loadStart = load();
  const rawRates: number[] = [];
  const rows: string[] = [];
  const fmt = (n: number) => n.toLocaleString('en-US');
  for (const [label, publishers, deliver, sync] of [
    ['publish (durable), 1 publisher', 1, false, 'full'],
    ['publish (durable), 8 publishers', 8, false, 'full'],
    ['publish → deliver, 1 publisher', 1, true, 'full'],
    ['publish → deliver, 8 publishers', 8, true, 'full'],
    ['publish → deliver, 256 publishers', 256, true, 'full'],
    ['publish → deliver, 8 publishers, synchronous=normal', 8, true, 'normal'],
  ] as const) {
    const runs = new Map<string, Array<{ rate: number; perCommit: number }>>(stores.map(([n]) => [n, []]));
    for (let round = 0; round < ROUNDS; round++) {
      rawRates.push(raw());
      // Alternate which store goes first, so neither always gets the warmer (or noisier) slot.
      const order = round % 2 === 0 ? stores : [...stores].reverse();
      for (const [name, Store] of order)
        runs.get(name)!.push(await publish(Store, publishers, deliver, sync));
    }
    const rawRate = median(rawRates);
    for (const [name] of stores) {
      const rs = runs.get(name)!;
      const rate = median(rs.map((r) => r.rate));
      const perCommit = median(rs.map((r) => r.perCommit));
      const each = rs.length > 1 ? ` (${rs.map((r) => fmt(r.rate)).join(' / ')})` : '';
      const who = stores.length > 1 ? `${name}: ` : '';
      rows.push(`| ${who}${label} | ${fmt(rate)}${each} | ${perCommit} | ${(rate / rawRate).toFixed(3)} |`);
    }
  }
  const rawRate = median(rawRates);
  const trace = await traceAt();
  const out = [
    `Date: ${new Date().toISOString().slice(0, 10)} · machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}) · Node ${process.version} · load average ${loadStart} at start, ${load()} at end`,
    `Command: \`pnpm build && ${BASE ? `BENCH_BASE=${BASE} ` : ''}${ROUNDS > 1 ? `BENCH_ROUNDS=${ROUNDS} ` : ''}node bench/sqlite.ts${quick ? ' --quick' : ''}\` · ${fmt(N)} events per row · synchronous=full unless noted · DeploymentCompleted events (~330 B JSON)${ROUNDS > 1 ? ` · medians of ${ROUNDS} rounds` : ''}`,
    '',
    '| scenario | events/s | events per commit | ratio to raw inserts |',
    '| --- | ---: | ---: | ---: |',
    `| raw better-sqlite3, 1,000-row transactions (median of ${rawRates.length}) | ${fmt(rawRate)} | 1000 | 1.000 |`,
    ...rows,
    '',
    `trace(id) on a store holding ${fmt(TRACE_EVENTS)} events (chains of 10): median ${trace.median} ms, p99 ${trace.p99} ms (200 ids; store filled in ${trace.fillS} s)`,
  ];
  console.log(out.join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
