import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const INSTALL_HINT = 'install nats-server (apt-get install nats-server)';

export interface NatsServerOptions {
  /** Start with JetStream enabled (`-js`). Default true. */
  jetstream?: boolean;
  /** Path of the nats-server binary; default: found on PATH. */
  binary?: string;
  /** How long to wait for the server to accept connections. Default 10 s. */
  startTimeoutMs?: number;
}

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** PID of the current server process (changes on restart). */
  readonly pid: number;
  /** JetStream store directory (a fresh temp dir, kept across restarts). */
  storeDir: string;
  /** Stops the server by PID and deletes the store directory. */
  stop(): Promise<void>;
  /**
   * Stops the server (keeping the store), runs `whileDown` if given, and starts it again on the
   * same port and store directory.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

/**
 * The nats-server binary on PATH, or undefined when it is missing outside CI. In CI (`CI` set) a
 * missing binary throws, so real-server tests fail loudly instead of being skipped.
 */
export function findNatsServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  for (const candidate of ['/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  if (process.env.CI) throw new Error(`nats-server not found on PATH: ${INSTALL_HINT}`);
  return undefined;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test process that dies without stopping its servers must not leave them behind.
  process.once('exit', () => {
    for (const child of running) if (child.pid !== undefined) safeKill(child.pid, 'SIGKILL');
  });
}

/**
 * Starts a real nats-server on a free loopback port with a temp JetStream store directory and
 * resolves once it accepts connections. Stop it with `stop()` (by PID).
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? findNatsServer();
  if (!binary) throw new Error(`nats-server not found on PATH: ${INSTALL_HINT}`);
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'switchyard-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (options.jetstream ?? true) args.unshift('-js', '-sd', storeDir);
  const timeout = options.startTimeoutMs ?? 10_000;
  installExitHook();

  let child = await launch(binary, args, port, timeout);
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid!;
    },
    storeDir,
    async stop() {
      await terminate(child);
      await rm(storeDir, { recursive: true, force: true });
    },
    async restart(whileDown) {
      await terminate(child);
      await whileDown?.();
      child = await launch(binary, args, port, timeout);
    },
  };
  return server;
}

async function launch(
  binary: string,
  args: string[],
  port: number,
  timeoutMs: number,
): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (log.length < 20_000) log += chunk;
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      reject(
        new Error(
          `nats-server ${args.join(' ')} exited (${signal ?? code}) before accepting connections:\n${log.slice(-2000)}`,
        ),
      );
    });
    child.once('error', (error) => reject(new Error(`cannot start ${binary}: ${error.message}`)));
  });
  exited.catch(() => {});
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      // JetStream is ready once the server logs "Server is ready" and the port answers with INFO.
      if (log.includes('Server is ready') && (await answersInfo(port))) return child;
      if (Date.now() > deadline)
        throw new Error(
          `nats-server did not accept connections on port ${port} within ${timeoutMs} ms:\n${log.slice(-2000)}`,
        );
      await Promise.race([exited, sleep(50)]);
    }
  } catch (error) {
    if (child.pid !== undefined && child.exitCode === null) safeKill(child.pid, 'SIGKILL');
    throw error;
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    running.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  safeKill(pid, 'SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!stopped) {
    safeKill(pid, 'SIGKILL');
    await exited;
  }
  running.delete(child);
}

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function answersInfo(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString('utf8').startsWith('INFO')));
    socket.connect(port, '127.0.0.1');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
