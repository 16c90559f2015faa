import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Clock } from '@switchyard/core';

// Child processes of steps: each runs in its own process group (detached), streams stdout and
// stderr into the step's log file, and is killed as a group — SIGTERM, then SIGKILL after a grace
// period — when its signal aborts (step timeout, run timeout, cancel, shutdown). When the main
// process exits, what it left behind in its group is killed too, as CI runners do.

const TAIL_BYTES = 4_096;

/** A step's log file plus the last few KB kept in memory for events and run records. */
export class StepLog {
  readonly path: string;
  readonly #stream: WriteStream;
  #tail = '';

  constructor(path: string) {
    this.path = path;
    this.#stream = createWriteStream(path, { flags: 'a' });
    this.#stream.on('error', () => {});
  }

  write(chunk: string | Buffer): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.#stream.write(text);
    this.#tail = (this.#tail + text).slice(-TAIL_BYTES);
  }

  /** A line of the runner's own, marked so it stands apart from command output. */
  note(line: string): void {
    this.write(`[switchyard] ${line}\n`);
  }

  /** The last lines of output (at most ~4 KB, at most `lines` lines). */
  tail(lines = 40): string {
    const all = this.#tail.split('\n');
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines).join('\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(resolve));
  }
}

export interface ProcessOptions {
  file: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: StepLog;
  signal: AbortSignal;
  clock: Clock;
  killGraceMs: number;
  /** Called with the pid once spawned (run records keep it). */
  onSpawn?: (pid: number) => void;
  /** Collects stdout here as well (e.g. `kubectl apply -o name`). */
  captureStdout?: boolean;
}

export interface ProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The signal aborted while the process ran (it was killed). */
  aborted: boolean;
  stdout: string;
  /** spawn failed: ENOENT (not found), EACCES… */
  spawnError?: NodeJS.ErrnoException;
}

export function runProcess(options: ProcessOptions): Promise<ProcessResult> {
  const { log, signal, clock } = options;
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ exitCode: null, signal: null, aborted: true, stdout: '' });
      return;
    }
    const child = spawn(options.file, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let aborted = false;
    let cancelKill: (() => void) | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // the group is gone already
      }
    };
    const onAbort = () => {
      aborted = true;
      log.note(`stopping (${describeReason(signal.reason)}): SIGTERM to process group ${child.pid}`);
      killGroup('SIGTERM');
      cancelKill = clock.setTimer(() => {
        log.note(`still running after ${options.killGraceMs} ms: SIGKILL`);
        killGroup('SIGKILL');
      }, options.killGraceMs);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (options.captureStdout) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => log.write(chunk));
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    signal.addEventListener('abort', onAbort, { once: true });
    let exited: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, sig) => {
      exited = { code, sig };
      // Background processes the step started would keep the pipes (and the run) open.
      killGroup('SIGKILL');
    });
    let done = false;
    const finish = (result: ProcessResult) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      cancelKill?.();
      resolve(result);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (exited) return;
      finish({ exitCode: null, signal: null, aborted, stdout, spawnError: error });
    });
    child.on('close', (code, sig) => {
      finish({ exitCode: exited?.code ?? code, signal: exited?.sig ?? sig, aborted, stdout });
    });
  });
}

export function describeReason(reason: unknown): string {
  if (reason && typeof reason === 'object' && 'message' in reason) return String((reason as Error).message);
  return String(reason);
}
