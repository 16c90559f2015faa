// Durable CloudEvents ingest: `POST /events` on the switchyard daemon (built dist/cli.js, SQLite store
// with synchronous=full, i.e. fsync before 202) versus a bare node:http server that only parses the
// JSON, side by side in one run, with ~3 KB IssueTransitioned events and a unique id per request.
// Also: the daemon's idle RSS and its start → ready time (spawn to first 200 from /readyz).
//
//   pnpm build && node bench/ingest.ts   # BENCH_SECONDS=10 BENCH_RUNS=3 BENCH_CONNECTIONS=32
//   BENCH_STORE=sqlite (default, synchronous=full) | sqlite-normal | memory
//   BENCH_BASE=/path/to/other/checkout (built) also runs that tree's daemon in every run (A/B)
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { machine, median, printTable } from './lib.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'apps/runner/dist/cli.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const STORE = process.env.BENCH_STORE ?? 'sqlite';
const TOKEN = 'bench-token-0123456789abcdef';
const BASE = process.env.BENCH_BASE;
const BASE_CLI = BASE ? join(BASE, 'apps/runner/dist/cli.js') : undefined;

function eventBody(): string {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) fields[`customfield_${10000 + i}`] = `value ${i} ${'x'.repeat(40)}`;
  const data = {
    issueKey: 'PROJ-123',
    issueId: '10042',
    projectKey: 'PROJ',
    summary: 'Checkout: support saved payment methods for returning customers',
    issueType: 'Story',
    fromStatus: 'Backlog',
    toStatus: 'Ready for Development',
    transitionedBy: {
      accountId: '5b10ac8d82e05b22cc7d4ef5',
      displayName: 'Ada Lovelace',
      email: 'ada@example.com',
    },
    labels: ['checkout', 'payments', 'q4'],
    url: 'https://acme.atlassian.net/browse/PROJ-123',
    fields,
  };
  return JSON.stringify({
    specversion: '1.0',
    id: '00000000-0000-0000-0000-000000000000',
    source: 'bench/ingest',
    type: 'IssueTransitioned',
    subject: 'PROJ-123',
    datacontenttype: 'application/json',
    data,
  });
}

const TEMPLATE = eventBody();
const ID = '00000000-0000-0000-0000-000000000000';

interface Server {
  child: ChildProcess;
  url: string;
  readyMs: number;
  loggedStartupMs?: number;
}

async function waitForOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} not ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const p of parts) onLine(p);
  });
}

async function startRaw(): Promise<Server> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(import.meta.dirname, 'ingest-raw-server.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((done) =>
    lines(child, (l) => l.startsWith('ready ') && done(Number(l.slice(6)))),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(url, 10_000);
  return { child, url, readyMs: performance.now() - started };
}

async function startDaemon(dir: string, port: number, cli = CLI): Promise<Server> {
  const config = join(dir, 'switchyard.yaml');
  writeFileSync(
    config,
    [
      `server: { host: 127.0.0.1, port: ${port}, token: \${env:BENCH_TOKEN}, bodyLimit: 64kb }`,
      STORE === 'memory'
        ? 'store: { kind: memory }'
        : `store: { kind: sqlite, path: ./data/ingest.db, synchronous: ${STORE === 'sqlite-normal' ? 'normal' : 'full'} }`,
      'log: { level: warn }',
    ].join('\n'),
  );
  const started = performance.now();
  const child = spawn(process.execPath, [cli, 'run', '--config', config], {
    env: { ...process.env, BENCH_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/readyz`, 20_000);
  return { child, url, readyMs: performance.now() - started };
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  await exited;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, seconds: number, auth: boolean): Promise<Load> {
  const result = await autocannon({
    url: `${url}/events`,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    headers: {
      'content-type': 'application/cloudevents+json',
      ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}),
    },
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => ({
          ...req,
          body: TEMPLATE.replace(ID, randomUUID()),
        }),
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((done) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

async function main(): Promise<void> {
  console.log(
    `# Runner ingest · ${machine()} · body ${Buffer.byteLength(TEMPLATE)} bytes · ${CONNECTIONS} connections · ${SECONDS}s × ${RUNS} runs · store ${STORE}`,
  );
  const raw: Load[] = [];
  const daemon: Load[] = [];
  const base: Load[] = [];
  const readyMs: number[] = [];
  const baseReadyMs: number[] = [];
  const rawReadyMs: number[] = [];
  const idleRss: number[] = [];
  const baseIdleRss: number[] = [];
  const rawIdleRss: number[] = [];
  const kinds = BASE_CLI ? (['raw', 'daemon', 'base'] as const) : (['raw', 'daemon'] as const);
  for (let run = 0; run < RUNS; run++) {
    // Rotate the order so no server always runs on a warmer (or busier) machine.
    const order = kinds.map((_, i) => kinds[(i + run) % kinds.length]!);
    for (const which of order) {
      if (which === 'base') {
        const dir = mkdtempSync(join(tmpdir(), 'sy-bench-ingest-base-'));
        const server = await startDaemon(dir, await freePort(), BASE_CLI);
        baseReadyMs.push(server.readyMs);
        await new Promise((r) => setTimeout(r, 1000));
        baseIdleRss.push(rssMb(server.child.pid!));
        await load(server.url, 1, true); // warm-up
        base.push(await load(server.url, SECONDS, true));
        await stop(server);
        rmSync(dir, { recursive: true, force: true });
      } else if (which === 'raw') {
        const server = await startRaw();
        rawReadyMs.push(server.readyMs);
        await new Promise((r) => setTimeout(r, 1000));
        rawIdleRss.push(rssMb(server.child.pid!));
        await load(server.url, 1, false); // warm-up
        raw.push(await load(server.url, SECONDS, false));
        await stop(server);
      } else {
        const dir = mkdtempSync(join(tmpdir(), 'sy-bench-ingest-'));
        const server = await startDaemon(dir, await freePort());
        readyMs.push(server.readyMs);
        await new Promise((r) => setTimeout(r, 1000));
        idleRss.push(rssMb(server.child.pid!));
        await load(server.url, 1, true); // warm-up
        daemon.push(await load(server.url, SECONDS, true));
        await stop(server);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(
      `run ${run + 1}: raw ${Math.round(raw.at(-1)!.rps)} req/s, daemon ${Math.round(daemon.at(-1)!.rps)} req/s (non-2xx ${daemon.at(-1)!.non2xx}, errors ${daemon.at(-1)!.errors})${base.length > 0 ? `, base daemon ${Math.round(base.at(-1)!.rps)} req/s (non-2xx ${base.at(-1)!.non2xx}, errors ${base.at(-1)!.errors})` : ''}`,
    );
  }
  const m = (xs: Load[], k: keyof Load) => median(xs.map((x) => x[k]));
  const ratio = m(daemon, 'rps') / m(raw, 'rps');
  printTable(
    ['server', 'req/s (median)', 'p50 ms', 'p99 ms', 'non-2xx', 'start→ready ms', 'idle RSS MB'],
    [
      [
        'raw node:http (parse JSON, 202)',
        fmt(m(raw, 'rps')),
        fmt(m(raw, 'p50')),
        fmt(m(raw, 'p99')),
        String(raw.reduce((a, b) => a + b.non2xx, 0)),
        fmt(median(rawReadyMs)),
        median(rawIdleRss).toFixed(1),
      ],
      [
        `switchyard run (${STORE === 'memory' ? 'memory store' : `SQLite, synchronous=${STORE === 'sqlite-normal' ? 'normal' : 'full'}`})`,
        fmt(m(daemon, 'rps')),
        fmt(m(daemon, 'p50')),
        fmt(m(daemon, 'p99')),
        String(daemon.reduce((a, b) => a + b.non2xx, 0)),
        fmt(median(readyMs)),
        median(idleRss).toFixed(1),
      ],
      ...(base.length > 0
        ? [
            [
              `base tree's switchyard run (${BASE})`,
              fmt(m(base, 'rps')),
              fmt(m(base, 'p50')),
              fmt(m(base, 'p99')),
              String(base.reduce((a, b) => a + b.non2xx, 0)),
              fmt(median(baseReadyMs)),
              median(baseIdleRss).toFixed(1),
            ],
          ]
        : []),
    ],
  );
  console.log(
    `\ningest ratio: ${(ratio * 100).toFixed(0)}% of raw (goal ≥ 50%) · idle RSS ${median(idleRss).toFixed(1)} MB (goal ≤ 90) · start→ready ${fmt(median(readyMs))} ms (goal ≤ 250)`,
  );
  if (base.length > 0) {
    console.log(
      `base tree: ${((m(base, 'rps') / m(raw, 'rps')) * 100).toFixed(0)}% of raw · all base daemon runs: ${base.map((d) => Math.round(d.rps)).join(', ')} req/s · this tree / base per run: ${daemon.map((d, i) => (d.rps / base[i]!.rps).toFixed(2)).join(' / ')}`,
    );
  }
  console.log(
    `all daemon runs: ${daemon.map((d) => Math.round(d.rps)).join(', ')} req/s; raw: ${raw.map((d) => Math.round(d.rps)).join(', ')}; ready ms: ${readyMs.map((x) => Math.round(x)).join(', ')}; RSS MB: ${idleRss.map((x) => x.toFixed(1)).join(', ')}`,
  );
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

await main();
