// End-to-end latency: signed Jira webhook → daemon (SQLite store, fsync before 202) → IssueTransitioned
// → rule `on: IssueTransitioned → slack.post` → the slack plugin's incoming-webhook POST received by a
// sink. The slack plugin runs with minIntervalMs: 0 (its per-channel limiter is off, so no ~1 msg/s
// pacing). Webhooks go out at a fixed rate (default 1,000/s, undici Pool + a pacing loop) for ~10 s;
// latency = sink arrival − send time (both `performance.timeOrigin + performance.now()`, the sink
// runs in its own process so its clock reads are not delayed by the sender's event loop).
// Each request carries its own issue key (PROJ-<n>), which the rule renders into the message text.
//
//   pnpm build && node bench/e2e-latency.ts   # BENCH_RATE=1000 BENCH_SECONDS=10 BENCH_RUNS=3
//   BENCH_RULE_CONCURRENCY=default,16 the rule concurrencies compared (default = unset, the runner's 1);
//   BENCH_DAEMON_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the daemon
//   BENCH_BASE=/path/to/other/checkout (built) also runs that tree's daemon, alternating with this
//   one in the same run (A/B): every concurrency is measured for both. Several, comma-separated.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Pool } from 'undici';
import { machine, median, printTable } from './lib.ts';
import {
  freePort,
  jiraWebhookBody,
  loadAverage,
  type Started,
  sign,
  stop,
  track,
  WEBHOOK_SECRET,
  waitForOk,
} from './webhook-lib.ts';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
// Rule concurrencies to compare side by side; 'default' leaves it unset (the runner's default, 1).
const RULE_CONCURRENCIES = (process.env.BENCH_RULE_CONCURRENCY ?? 'default,16').split(',');
const BASE = process.env.BENCH_BASE;
// One or more other trees, comma-separated; each is named by its directory's last component.
const BASES = (BASE ?? '').split(',').filter(Boolean);
const TREES: Array<[string, string]> = [
  ...BASES.map((dir): [string, string] => [
    BASES.length === 1 ? 'base' : basename(dir),
    join(dir, 'apps/runner/dist/cli.js'),
  ]),
  ['this tree', join(import.meta.dirname, '../apps/runner/dist/cli.js')],
];
// Configurations measured side by side: every tree × every rule concurrency.
const CONCURRENCIES = TREES.flatMap(([tree]) => RULE_CONCURRENCIES.map((c) => `${tree}|${c}`));
const DRAIN_MS = 15_000;
const DAEMON_NODE_ARGS = process.env.BENCH_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

const now = () => performance.timeOrigin + performance.now();

// The sink: answers Slack's `ok`, records the arrival time of each message by its text.
const SINK = `
import http from 'node:http';
const arrivals = {};
let count = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count, arrivals }));
    return;
  }
  const at = performance.timeOrigin + performance.now();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const text = JSON.parse(Buffer.concat(chunks).toString('utf8')).text;
    if (!(text in arrivals)) { arrivals[text] = at; count++; }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log('ready ' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

async function startSink(): Promise<{ url: string; child: ReturnType<typeof spawn> }> {
  const child = track(
    spawn(process.execPath, ['--input-type=module', '-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const port = await new Promise<number>((done, fail) => {
    let buffer = '';
    child.stdout!.on('data', (c: Buffer) => {
      buffer += c.toString();
      const m = /ready (\d+)/.exec(buffer);
      if (m) done(Number(m[1]));
    });
    child.once('exit', () => fail(new Error('sink exited')));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function sinkState(url: string): Promise<{ count: number; arrivals: Record<string, number> }> {
  const res = await fetch(url);
  return (await res.json()) as { count: number; arrivals: Record<string, number> };
}

function daemonYaml(port: number, sinkUrl: string, concurrency: string): string {
  return [
    `server: { host: 127.0.0.1, port: ${port} }`,
    'store: { kind: sqlite, path: ./data/e2e.db }',
    'log: { level: warn }',
    'plugins:',
    '  jira:',
    '    options:',
    '      baseUrl: https://acme.atlassian.net',
    '      email: switchyard@example.com',
    '      token: bench-jira-api-token',
    `      webhookSecret: ${WEBHOOK_SECRET}`,
    '  slack:',
    '    options:',
    `      webhookUrl: ${sinkUrl}/services/T000/B000/XXXX`,
    '      minIntervalMs: 0',
    'rules:',
    '  - name: notify',
    '    on: IssueTransitioned',
    ...(concurrency !== 'default' ? [`    concurrency: ${concurrency}`] : []),
    '    do:',
    '      - action: slack.post',
    '        with: { text: "{{ .data.issueKey }}" }',
    '',
  ].join('\n');
}

interface Prepared {
  key: string;
  body: string;
  signature: string;
}

const TEMPLATE = jiraWebhookBody('PROJ-123');
function prepare(from: number, count: number): Prepared[] {
  const out: Prepared[] = [];
  for (let i = 0; i < count; i++) {
    const key = `PROJ-${from + i}`;
    const body = TEMPLATE.replaceAll('PROJ-123', key);
    out.push({ key, body, signature: sign(body) });
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface RunResult {
  sent: number;
  received: number;
  failed: number;
  e2eP50: number;
  e2eP99: number;
  e2eMax: number;
  ackP50: number;
  ackP99: number;
  achievedRate: number;
}

/** Sends `requests` at RATE per second; returns the send time and 202 latency per key. */
async function send(pool: Pool, requests: Prepared[]) {
  const sentAt = new Map<string, number>();
  const ack: number[] = [];
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / RATE;
  const t0 = performance.now();
  let i = 0;
  while (i < requests.length) {
    const due = Math.min(requests.length, Math.floor((performance.now() - t0) / interval) + 1);
    for (; i < due; i++) {
      const r = requests[i]!;
      const start = now();
      sentAt.set(r.key, start);
      const p = pool
        .request({
          path: '/webhooks/jira',
          method: 'POST',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'x-atlassian-webhook-identifier': `bench-${r.key}-${start}`,
            'x-hub-signature': r.signature,
          },
          body: r.body,
        })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode === 202) ack.push(now() - start);
          else failed++;
        })
        .catch(() => {
          failed++;
        });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = (performance.now() - t0) / 1000;
  await Promise.all(inflight);
  return { sentAt, ack, failed, achievedRate: requests.length / elapsed };
}

/** `switchyard run` from the given tree's built CLI; ready = first 200 from /readyz. */
async function startDaemon(cli: string, dir: string, port: number, yaml: string): Promise<Started> {
  const config = join(dir, 'switchyard.yaml');
  writeFileSync(config, yaml);
  const started = performance.now();
  const child = track(
    spawn(process.execPath, [...DAEMON_NODE_ARGS, cli, 'run', '--config', config], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/readyz`, 30_000, child);
  return { child, url, readyMs: performance.now() - started };
}

async function oneRun(run: number, configuration: string): Promise<RunResult> {
  const [tree, concurrency] = configuration.split('|') as [string, string];
  const cli = TREES.find(([t]) => t === tree)![1];
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-e2e-'));
  const port = await freePort();
  const daemon = await startDaemon(cli, dir, port, daemonYaml(port, sink.url, concurrency));
  const pool = new Pool(daemon.url, { connections: 64 });
  try {
    const base = 1_000_000 * (run + 1) + 100_000 * CONCURRENCIES.indexOf(configuration);
    const warm = prepare(base, Math.round(RATE * WARMUP_SECONDS));
    const measured = prepare(base + warm.length, Math.round(RATE * SECONDS));
    await send(pool, warm);
    // Let the warm-up drain before the measured window starts.
    const warmDeadline = performance.now() + DRAIN_MS;
    while ((await sinkState(sink.url)).count < warm.length && performance.now() < warmDeadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const { sentAt, ack, failed, achievedRate } = await send(pool, measured);
    const deadline = performance.now() + DRAIN_MS;
    let state = await sinkState(sink.url);
    while (state.count < warm.length + measured.length && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      state = await sinkState(sink.url);
    }
    const latencies: number[] = [];
    for (const [key, at] of sentAt) {
      const arrived = state.arrivals[key];
      if (arrived !== undefined) latencies.push(arrived - at);
    }
    latencies.sort((a, b) => a - b);
    ack.sort((a, b) => a - b);
    return {
      sent: measured.length,
      received: latencies.length,
      failed,
      e2eP50: percentile(latencies, 50),
      e2eP99: percentile(latencies, 99),
      e2eMax: latencies.at(-1) ?? Number.NaN,
      ackP50: percentile(ack, 50),
      ackP99: percentile(ack, 99),
      achievedRate,
    };
  } finally {
    await pool.close();
    await stop(daemon.child);
    await stop(sink.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

function label(configuration: string): string {
  const [tree, concurrency] = configuration.split('|') as [string, string];
  const rule = `rule concurrency ${concurrency === 'default' ? '1 (default)' : concurrency}`;
  return TREES.length > 1 ? `${tree}: ${rule}` : rule;
}

async function main(): Promise<void> {
  console.log(
    `# End-to-end latency · ${machine()} · load average ${loadAverage()} · ${RATE} webhooks/s × ${SECONDS}s (+${WARMUP_SECONDS}s warm-up) × ${RUNS} runs · rule concurrency ${RULE_CONCURRENCIES.join(' vs ')}${BASE ? ` · base tree ${BASE} vs this tree` : ''} · body ${Buffer.byteLength(TEMPLATE)} bytes`,
  );
  const results = new Map<string, RunResult[]>(CONCURRENCIES.map((c) => [c, []]));
  for (let run = 0; run < RUNS; run++) {
    const order = CONCURRENCIES.map((_, i) => CONCURRENCIES[(i + run) % CONCURRENCIES.length]!);
    for (const concurrency of order) {
      const r = await oneRun(run, concurrency);
      results.get(concurrency)!.push(r);
      console.log(
        `run ${run + 1} ${label(concurrency)} (load ${loadAverage()}): sent ${r.sent} at ${r.achievedRate.toFixed(0)}/s, received ${r.received}, failed ${r.failed} · e2e p50 ${r.e2eP50.toFixed(2)} ms p99 ${r.e2eP99.toFixed(2)} ms max ${r.e2eMax.toFixed(1)} ms · 202 p50 ${r.ackP50.toFixed(2)} ms p99 ${r.ackP99.toFixed(2)} ms`,
      );
    }
  }
  console.log('');
  const rows: string[][] = [];
  for (const [concurrency, rs] of results) {
    const m = (k: keyof RunResult) => median(rs.map((r) => r[k]));
    rows.push([
      label(concurrency),
      m('e2eP50').toFixed(2),
      m('e2eP99').toFixed(2),
      m('e2eMax').toFixed(1),
      m('ackP50').toFixed(2),
      m('ackP99').toFixed(2),
      String(rs.reduce((a, r) => a + r.sent - r.received, 0)),
    ]);
  }
  printTable(
    [
      'configuration (median of runs)',
      'e2e p50 ms',
      'e2e p99 ms',
      'e2e max ms',
      '202 p50 ms',
      '202 p99 ms',
      'lost',
    ],
    rows,
  );
  console.log(
    `\ngoal: e2e p99 ≤ 10 ms at ${RATE}/s · failed sends: ${[...results.values()].flat().reduce((a, r) => a + r.failed, 0)} · "lost" = not at the sink within ${DRAIN_MS / 1000}s after the last send · load average at end ${loadAverage()}`,
  );
}

await main();
process.exit(0);
