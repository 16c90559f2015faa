// Helpers shared by webhook-ingest.ts, e2e-latency.ts and footprint.ts: the Jira webhook body, the
// daemon and Node-RED as child processes, readiness polling, RSS. Node-RED is installed on demand
// into bench/.node-red/ (gitignored, outside the workspace) so CI installs never pay for it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { FakeJira, signJiraWebhook } from '@switchyard/testing';
import { request } from 'undici';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'apps/runner/dist/cli.js');
export const NODE_RED_DIR = join(import.meta.dirname, '.node-red');
export const NODE_RED_VERSION = process.env.BENCH_NODE_RED ?? '4';
export const WEBHOOK_SECRET = 'bench-jira-webhook-secret';

/**
 * A `jira:issue_updated` webhook with a status changelog item (→ IssueTransitioned), in the shape
 * Jira Cloud sends (FakeJira's payload: user, issue with fields, changelog), padded with realistic
 * fields (description, custom fields, components…) to about 3 KB.
 */
export function jiraWebhookBody(issueKey = 'PROJ-123'): string {
  const jira = new FakeJira({ publicUrl: 'https://acme.atlassian.net' });
  jira.addIssue({
    key: issueKey,
    status: 'To Do',
    summary: 'Checkout: support saved payment methods for returning customers',
    labels: ['checkout', 'payments', 'q4'],
    fields: {
      priority: {
        id: '3',
        name: 'Medium',
        iconUrl: 'https://acme.atlassian.net/images/icons/priorities/medium.svg',
      },
      assignee: {
        accountId: '5b10ac8d82e05b22cc7d4ef5',
        displayName: 'Ada Lovelace',
        emailAddress: 'ada@example.com',
        active: true,
        timeZone: 'Europe/London',
      },
      reporter: { accountId: '5b10a2844c20165700ede21g', displayName: 'Grace Hopper', active: true },
      components: [
        { id: '10100', name: 'checkout' },
        { id: '10101', name: 'payments-api' },
      ],
      fixVersions: [{ id: '10200', name: '2026.12', released: false }],
      created: '2026-11-20T09:12:44.000+0000',
      updated: '2026-11-26T17:59:58.000+0000',
      description:
        'As a returning customer I want to pay with a saved card so that checkout takes one click. ' +
        'Acceptance: cards are tokenised by the PSP, the last four digits and expiry are shown, a ' +
        'customer can remove a card, and 3-D Secure is asked again when the PSP requires it. '.repeat(7),
      customfield_10001: 'https://git.example.com/shop/checkout.git',
      customfield_10002: 'checkout-service',
      customfield_10003: 8,
      customfield_10004: { id: '10300', value: 'Team Payments' },
      customfield_10005: ['PROJ-100', 'PROJ-101'],
      customfield_10020: [{ id: 42, name: 'Sprint 42', state: 'active', boardId: 7 }],
      environment: 'production',
      timetracking: { originalEstimate: '3d', remainingEstimate: '2d' },
      subtasks: [],
      issuelinks: [],
    },
  });
  const payload = jira.webhookPayload({ issueKey, from: 'To Do', to: 'Ready for Development' });
  return JSON.stringify(payload);
}

export function sign(body: string): string {
  return signJiraWebhook(body, WEBHOOK_SECRET);
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => done(port));
    });
    s.on('error', fail);
  });
}

/** Polls until `url` answers 2xx (undici, a fresh connection each time so no keep-alive skews it). */
export async function waitForOk(
  url: string,
  timeoutMs: number,
  child?: ChildProcess,
  init: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> } = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(`process exited (${child.exitCode}) before ${url} was ready`);
    try {
      const res = await request(url, {
        method: init.method ?? 'GET',
        body: init.body,
        headers: init.headers,
        reset: true,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return;
    } catch {}
    if (performance.now() > deadline) throw new Error(`${url} not ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Stops every child when the script ends or is interrupted, so nothing outlives it. */
const children = new Set<ChildProcess>();
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
}
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface Started {
  child: ChildProcess;
  url: string;
  /** spawn → first 2xx from the readiness URL. */
  readyMs: number;
}

/** `switchyard run --config <dir>/switchyard.yaml` from the built CLI; ready = first 200 from /readyz. */
export async function startDaemon(
  dir: string,
  port: number,
  yaml: string,
  extraArgs: string[] = [],
): Promise<Started> {
  const config = join(dir, 'switchyard.yaml');
  writeFileSync(config, yaml);
  const started = performance.now();
  const child = track(
    spawn(process.execPath, [...extraArgs, CLI, 'run', '--config', config], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/readyz`, 30_000, child);
  return { child, url, readyMs: performance.now() - started };
}

/** Installs Node-RED into bench/.node-red/ with npm when it is not there yet; returns red.js. */
export function ensureNodeRed(): string {
  const red = join(NODE_RED_DIR, 'node_modules/node-red/red.js');
  if (existsSync(red)) return red;
  mkdirSync(NODE_RED_DIR, { recursive: true });
  const manifest = join(NODE_RED_DIR, 'package.json');
  if (!existsSync(manifest)) {
    writeFileSync(
      manifest,
      `${JSON.stringify({ name: 'switchyard-bench-node-red', private: true }, null, 2)}\n`,
    );
  }
  console.error(`installing node-red@${NODE_RED_VERSION} into ${NODE_RED_DIR} (once)…`);
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      NODE_RED_DIR,
      '--no-audit',
      '--no-fund',
      '--omit=dev',
      `node-red@${NODE_RED_VERSION}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return red;
}

export function nodeRedVersion(): string {
  const manifest = join(NODE_RED_DIR, 'node_modules/node-red/package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/**
 * Headless Node-RED (no editor, no admin API) with one flow: POST /webhooks/jira → function (reads
 * the parsed body, answers 202 with the issue key) → http response; plus GET /ready → 200 for
 * readiness. Ready = first 200 from that http-in endpoint.
 */
export async function startNodeRed(dir: string, port: number): Promise<Started> {
  const red = ensureNodeRed();
  const flowFile = join(dir, 'flows.json');
  const tab = 'bench-tab';
  writeFileSync(
    flowFile,
    JSON.stringify([
      { id: tab, type: 'tab', label: 'bench' },
      { id: 'in', type: 'http in', z: tab, url: '/webhooks/jira', method: 'post', wires: [['fn']] },
      {
        id: 'fn',
        type: 'function',
        z: tab,
        func: [
          'const p = msg.payload;',
          'if (!p || typeof p !== "object" || !p.issue) { msg.statusCode = 400; msg.payload = { error: "not a Jira webhook" }; return msg; }',
          'msg.statusCode = 202;',
          'msg.payload = { accepted: true, issue: p.issue.key };',
          'return msg;',
        ].join('\n'),
        outputs: 1,
        wires: [['out']],
      },
      { id: 'out', type: 'http response', z: tab, wires: [] },
      { id: 'rin', type: 'http in', z: tab, url: '/ready', method: 'get', wires: [['rout']] },
      { id: 'rout', type: 'http response', z: tab, statusCode: '200', wires: [] },
    ]),
  );
  const settings = join(dir, 'settings.cjs');
  writeFileSync(
    settings,
    `module.exports = ${JSON.stringify(
      {
        uiHost: '127.0.0.1',
        uiPort: port,
        httpAdminRoot: false,
        httpNodeRoot: '/',
        flowFile,
        userDir: dir,
        credentialSecret: false,
        logging: { console: { level: 'warn', metrics: false, audit: false } },
        telemetry: { enabled: false },
        diagnostics: { enabled: false },
        runtimeState: { enabled: false },
        externalModules: { autoInstall: false, palette: { allowInstall: false } },
      },
      null,
      2,
    )};\n`,
  );
  const started = performance.now();
  const child = track(
    spawn(process.execPath, [red, '--settings', settings, '--userDir', dir, '--port', String(port)], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/ready`, 60_000, child);
  return { child, url, readyMs: performance.now() - started };
}

/** The raw baseline (bench/ingest-raw-server.mjs): node:http, read the body, JSON.parse, 202. */
export async function startRaw(): Promise<Started> {
  const started = performance.now();
  const child = track(
    spawn(process.execPath, [join(import.meta.dirname, 'ingest-raw-server.mjs')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const port = await new Promise<number>((done, fail) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const m = /ready (\d+)/.exec(buffer);
      if (m) done(Number(m[1]));
    });
    child.once('exit', () => fail(new Error('raw server exited')));
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(url, 10_000, child);
  return { child, url, readyMs: performance.now() - started };
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
