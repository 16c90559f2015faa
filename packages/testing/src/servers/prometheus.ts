import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { request } from 'undici';

const INSTALL_HINT = 'install it with `apt-get install prometheus` (Debian/Ubuntu) or put the binary on PATH';

/** Absolute path of the `prometheus` binary on PATH, or undefined when it is not installed. */
export function findPrometheus(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'prometheus');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * For `describe.skipIf(prometheusSkipReason())`: undefined when the binary is on PATH; otherwise a
 * message saying how to install it. With `CI` set a missing binary is an error, never a silent skip.
 */
export function prometheusSkipReason(): string | undefined {
  if (findPrometheus()) return undefined;
  const message = `prometheus binary not found on PATH: ${INSTALL_HINT}`;
  if (process.env.CI)
    throw new Error(`${message} (CI is set, so tests that need it fail instead of skipping)`);
  console.warn(`skipping real-Prometheus tests: ${message}`);
  return message;
}

export interface StartPrometheusOptions {
  /** `host:port` of the targets to scrape (e.g. an exporter's `target`). */
  scrapeTargets: string[];
  /** Seconds between scrapes (default 1). */
  scrapeIntervalSeconds?: number;
  /** More `scrape_configs` entries, as objects in Prometheus's config shape. */
  extraScrapeConfigs?: Array<Record<string, unknown>>;
  /** How long to wait for /-/ready (default 20 s). */
  startTimeoutMs?: number;
}

export interface PrometheusServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  pid: number;
  /** Kills the process by PID and removes its data directory. */
  stop(): Promise<void>;
  /**
   * Polls an instant query until it returns at least one series (or a non-NaN scalar); resolves with
   * the result. Use it to wait for the first scrape or for a value the exporter was just given.
   */
  waitForSeries(query: string, timeoutMs?: number): Promise<PrometheusQueryResult>;
}

export interface PrometheusQueryResult {
  resultType: string;
  result: unknown;
}

/**
 * Starts the real Prometheus binary on a free loopback port with a temporary data directory and a
 * generated config that scrapes the given targets, and waits until it is ready.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  const binary = findPrometheus();
  if (!binary) throw new Error(`cannot start Prometheus: binary not found on PATH; ${INSTALL_HINT}`);
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-prometheus-'));
  // JSON is YAML, so the generated config needs no YAML library.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [
      { job_name: 'switchyard-test', static_configs: [{ targets: options.scrapeTargets }] },
      ...(options.extraScrapeConfigs ?? []),
    ],
  };
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  const cleanup = async () => {
    await killProcess(child, exited);
    await rm(dir, { recursive: true, force: true });
  };
  if (pid === undefined) {
    const error = await spawnFailed;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot start ${binary}: ${error.message}`);
  }
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(
        `prometheus exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${stderr}`,
      );
    }
    if (await isReady(url)) break;
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(
        `prometheus at ${url} was not ready within ${options.startTimeoutMs ?? 20_000} ms:\n${stderr}`,
      );
    }
    await sleep(100);
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    pid,
    stop() {
      stopped ??= cleanup();
      return stopped;
    },
    async waitForSeries(query, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let last = 'no answer yet';
      for (;;) {
        try {
          const res = await request(`${url}/api/v1/query`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ query }).toString(),
          });
          const text = await res.body.text();
          last = `${res.statusCode} ${text.slice(0, 300)}`;
          const body = JSON.parse(text) as { status?: string; data?: PrometheusQueryResult };
          if (body.status === 'success' && body.data && hasData(body.data)) return body.data;
        } catch (error) {
          last = (error as Error).message;
        }
        if (Date.now() > until) {
          throw new Error(
            `query ${JSON.stringify(query)} returned no data within ${timeoutMs} ms; last answer: ${last}`,
          );
        }
        await sleep(200);
      }
    },
  };
}

function hasData(data: PrometheusQueryResult): boolean {
  if (data.resultType === 'vector' || data.resultType === 'matrix') {
    return Array.isArray(data.result) && data.result.length > 0;
  }
  if (data.resultType === 'scalar' && Array.isArray(data.result)) return data.result[1] !== 'NaN';
  return data.result !== undefined;
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await request(`${url}/-/ready`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

async function killProcess(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pid = child.pid;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const timer = setTimeout(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not find a free port');
  return address.port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Exporter {
  /** Base URL, e.g. http://127.0.0.1:40111 (metrics at /metrics). */
  url: string;
  /** `host:port`, for `startPrometheus({ scrapeTargets: [exporter.target] })`. */
  target: string;
  /** Replaces the exposition text served at /metrics from the next scrape on. */
  set(text: string): void;
  /** Number of GET /metrics served so far. */
  readonly scrapes: number;
  stop(): Promise<void>;
}

/**
 * A tiny exporter: serves whatever Prometheus text exposition the test sets (passing, failing,
 * absent, NaN, several series) at GET /metrics on a free loopback port.
 */
export async function startExporter(initial = ''): Promise<Exporter> {
  let text = initial;
  let scrapes = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      scrapes++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text.endsWith('\n') || text === '' ? text : `${text}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: the exporter serves GET /metrics\n');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('exporter has no TCP address');
  const target = `127.0.0.1:${address.port}`;
  return {
    url: `http://${target}`,
    target,
    set(next) {
      text = next;
    },
    get scrapes() {
      return scrapes;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
