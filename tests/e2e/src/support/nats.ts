// A nats-server that requires a user and password, for suites that check `store.credentials`
// end to end. (@switchyard/testing's startNatsServer starts servers without authentication.)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNatsServer } from '@switchyard/testing';
import { freePort, waitFor } from './daemon.js';

export interface AuthNatsServer {
  url: string;
  port: number;
  /** Stops the server by PID and removes its store directory. */
  stop(): Promise<void>;
}

/** nats-server -js on a free loopback port, accepting only `user`/`password`. */
export async function startNatsServerWithUser(user: string, password: string): Promise<AuthNatsServer> {
  const binary = findNatsServer();
  if (!binary)
    throw new Error('nats-server not found on PATH: install nats-server (apt-get install nats-server)');
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'sy-e2e-nats-auth-'));
  const child: ChildProcess = spawn(
    binary,
    ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port), '--user', user, '--pass', password],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (log.length < 20_000) log += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    rmSync(storeDir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}):\n${log}`);
        return log.includes('Server is ready') || undefined;
      },
      10_000,
      'nats-server ready',
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `nats://127.0.0.1:${port}`, port, stop };
}
