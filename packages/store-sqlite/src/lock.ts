import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { SqliteErrorCodes, sqliteError } from './errors.js';

/**
 * The database is opened in SQLite's EXCLUSIVE locking mode, so the kernel holds a lock on the file
 * for as long as this process has it open and drops it when the process dies (SIGKILL included):
 * a second daemon gets SQLITE_BUSY at once, and there is never a stale lock to clean up.
 * `<path>.lock` only records who holds it, so the second daemon's error can name the pid.
 */
export class LockNote {
  readonly path: string;

  constructor(databasePath: string) {
    this.path = `${databasePath}.lock`;
  }

  /** Called once the exclusive lock is ours: any note left here belongs to a dead process. */
  write(): void {
    try {
      writeFileSync(this.path, `${process.pid}\n${hostname()}\n`);
    } catch {
      // Informational only: the SQLite lock is what protects the file.
    }
  }

  remove(): void {
    if (this.read()?.pid !== process.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  /** The coded error for a database another process holds. */
  heldError(databasePath: string, cause: unknown): Error {
    const owner = this.read();
    const who = owner
      ? `process ${owner.pid} on ${owner.host}${owner.pid === process.pid ? ' (this process: another SqliteTransport has it open)' : ''}`
      : 'another process';
    return sqliteError(
      SqliteErrorCodes.LOCKED,
      `${databasePath} is in use by ${who}: another Switchyard daemon runs on this database. Stop it, or give this one its own store.path`,
      { cause, details: { path: databasePath, pid: owner?.pid, host: owner?.host } },
    );
  }

  private read(): { pid: number; host: string } | undefined {
    try {
      const [pid, host] = readFileSync(this.path, 'utf8').split('\n');
      const n = Number(pid);
      return Number.isInteger(n) && n > 0 ? { pid: n, host: host || 'unknown host' } : undefined;
    } catch {
      return undefined;
    }
  }
}
