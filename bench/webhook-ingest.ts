// Durable webhook ingest: a ~3 KB signed Jira `jira:issue_updated` (status change → IssueTransitioned)
// POSTed to the daemon's /webhooks/jira (built CLI, SQLite store with fsync before 202, jira plugin
// only, no rules), side by side in one run with a bare node:http server that only parses the JSON
// (bench/ingest-raw-server.mjs) and with Node-RED 4 doing http in → function → http response.
// Every request carries a unique X-Atlassian-Webhook-Identifier (the daemon's dedupe key), so every
// one is stored; the body and its X-Hub-Signature are the same (the signature covers the body only).
//
//   pnpm build && node bench/webhook-ingest.ts   # BENCH_SECONDS=10 BENCH_RUNS=3 BENCH_CONNECTIONS=32
//   (Node-RED is installed on first use into bench/.node-red/, outside the workspace.)
//   BENCH_BASE=/path/to/other/checkout (built) adds target `daemon-base`: that tree's daemon, same
//   config, in the same rotation (A/B). BENCH_TARGETS=daemon,daemon-base compares just the two.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { machine, median, printTable } from './lib.ts';
import {
  ensureNodeRed,
  fmt,
  freePort,
  jiraWebhookBody,
  loadAverage,
  nodeRedVersion,
  type Started,
  sign,
  startDaemon,
  startNodeRed,
  startRaw,
  stop,
  track,
  WEBHOOK_SECRET,
  waitForOk,
} from './webhook-lib.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);
const SYNCHRONOUS = process.env.BENCH_SYNCHRONOUS; // unset = the store's default (full)
const DAEMON_NODE_ARGS = process.env.BENCH_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

const BODY = jiraWebhookBody();
const SIGNATURE = sign(BODY);

type Target = 'raw' | 'daemon' | 'daemon-base' | 'node-red';
const BASE = process.env.BENCH_BASE;
const TARGETS: Target[] = (
  (process.env.BENCH_TARGETS ?? `raw,daemon,${BASE ? 'daemon-base,' : ''}node-red`).split(',') as Target[]
).filter(Boolean);

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
}

let sequence = 0;

async function load(url: string, seconds: number): Promise<Load> {
  const prefix = `${process.pid}-${Date.now().toString(36)}`;
  const result = await autocannon({
    url: `${url}/webhooks/jira`,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Atlassian Webhook HTTP Client',
      'x-atlassian-webhook-flow': 'Primary',
      'x-hub-signature': SIGNATURE,
    },
    body: BODY,
    requests: [
      {
        // Unique per request: the daemon stores every one (a repeated identifier is a 200 duplicate).
        setupRequest: (req: { headers: Record<string, string> }) => {
          req.headers['x-atlassian-webhook-identifier'] = `${prefix}-${sequence++}`;
          return req;
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

function daemonYaml(port: number): string {
  return [
    `server: { host: 127.0.0.1, port: ${port} }`,
    `store: { kind: sqlite, path: ./data/webhook-ingest.db${SYNCHRONOUS ? `, synchronous: ${SYNCHRONOUS}` : ''} }`,
    'log: { level: warn }',
    'plugins:',
    '  jira:',
    '    options:',
    '      baseUrl: https://acme.atlassian.net',
    '      email: switchyard@example.com',
    '      token: bench-jira-api-token',
    `      webhookSecret: ${WEBHOOK_SECRET}`,
    '',
  ].join('\n');
}

/** The base tree's built CLI with the same config (webhook-lib's startDaemon runs this tree's). */
async function startBaseDaemon(dir: string, port: number): Promise<Started> {
  if (!BASE) throw new Error('target daemon-base needs BENCH_BASE=/path/to/a/built/checkout');
  const config = join(dir, 'switchyard.yaml');
  writeFileSync(config, daemonYaml(port));
  const started = performance.now();
  const child = track(
    spawn(
      process.execPath,
      [...DAEMON_NODE_ARGS, join(BASE, 'apps/runner/dist/cli.js'), 'run', '--config', config],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    ),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/readyz`, 30_000, child);
  return { child, url, readyMs: performance.now() - started };
}

async function start(target: Target, dir: string): Promise<Started> {
  if (target === 'raw') return startRaw();
  const port = await freePort();
  if (target === 'daemon') return startDaemon(dir, port, daemonYaml(port), DAEMON_NODE_ARGS);
  if (target === 'daemon-base') return startBaseDaemon(dir, port);
  return startNodeRed(dir, port);
}

async function main(): Promise<void> {
  if (TARGETS.includes('node-red')) ensureNodeRed();
  console.log(
    `# Webhook ingest · ${machine()} · load average ${loadAverage()} · body ${Buffer.byteLength(BODY)} bytes · ${CONNECTIONS} connections · ${SECONDS}s × ${RUNS} runs (+${WARMUP_SECONDS}s warm-up) · Node-RED ${TARGETS.includes('node-red') ? nodeRedVersion() : '-'}`,
  );
  const results = new Map<Target, Load[]>(TARGETS.map((t) => [t, []]));
  for (let run = 0; run < RUNS; run++) {
    // Rotate the order so no target always runs first (or last) on a warmer or busier machine.
    const order = TARGETS.map((_, i) => TARGETS[(i + run) % TARGETS.length]!);
    const line: string[] = [];
    for (const target of order) {
      const dir = mkdtempSync(join(tmpdir(), `sy-bench-webhook-${target}-`));
      const server = await start(target, dir);
      try {
        await load(server.url, WARMUP_SECONDS);
        const r = await load(server.url, SECONDS);
        results.get(target)!.push(r);
        line.push(`${target} ${fmt(r.rps)} req/s (non-2xx ${r.non2xx}, errors ${r.errors})`);
      } finally {
        await stop(server.child);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(`run ${run + 1} (load ${loadAverage()}): ${line.join(' · ')}`);
  }

  const m = (t: Target, k: keyof Load) => median(results.get(t)!.map((x) => x[k]));
  const label: Record<Target, string> = {
    raw: 'raw node:http (read body, JSON.parse, 202)',
    daemon: `switchyard run: /webhooks/jira → IssueTransitioned, SQLite ${SYNCHRONOUS ?? 'synchronous=full'}`,
    'daemon-base': `base tree's switchyard run, same config (${BASE})`,
    'node-red': 'Node-RED: http in → function → http response',
  };
  const rows = TARGETS.map((t) => [
    label[t],
    fmt(m(t, 'rps')),
    m(t, 'p50').toFixed(1),
    m(t, 'p99').toFixed(1),
    String(results.get(t)!.reduce((a, b) => a + b.non2xx + b.errors, 0)),
    results
      .get(t)!
      .map((x) => fmt(x.rps))
      .join(' / '),
  ]);
  console.log('');
  printTable(['target', 'req/s (median)', 'p50 ms', 'p99 ms', 'non-2xx + errors', 'runs req/s'], rows);
  if (results.has('daemon')) {
    const d = m('daemon', 'rps');
    const parts: string[] = [];
    if (results.has('raw'))
      parts.push(`daemon/raw ${((d / m('raw', 'rps')) * 100).toFixed(0)}% (goal ≥ 50%)`);
    if (results.has('node-red'))
      parts.push(`daemon/Node-RED ${(d / m('node-red', 'rps')).toFixed(2)}× (goal ≥ 3×)`);
    // Paired ratios (same run, minutes apart) are steadier than ratios of medians on a busy machine.
    const paired = (other: Target) =>
      results
        .get('daemon')!
        .map((x, i) => x.rps / results.get(other)![i]!.rps)
        .map((r) => r.toFixed(2))
        .join(' / ');
    if (results.has('raw')) parts.push(`per-run daemon/raw ${paired('raw')}`);
    if (results.has('node-red')) parts.push(`per-run daemon/Node-RED ${paired('node-red')}`);
    if (results.has('daemon-base')) parts.push(`per-run daemon/base daemon ${paired('daemon-base')}`);
    console.log(`\n${parts.join(' · ')} · load average at end ${loadAverage()}`);
  }
}

await main();
process.exit(0);
