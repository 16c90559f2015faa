import { ErrorCodes, isSwitchyardError, RetryableError } from '@switchyard/core';
import type Database from 'better-sqlite3';
import { storageError } from './errors.js';

interface Queued {
  op: () => unknown;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
}

export interface CommitHooks {
  /** Runs inside every transaction after the queued operations (consumers persist positions). */
  beforeCommit?: () => void;
  /** Runs once the transaction is durable. */
  afterCommit?: () => void;
  /** Runs when the transaction was rolled back. */
  afterRollback?: (error: Error) => void;
}

/**
 * Every write goes through here. Writes queued while nothing is committing start a transaction on
 * the next turn of the event loop (setImmediate), so publishers that arrive together share one
 * commit and one fsync; the next batch starts as soon as this one ends, with no fixed timer.
 * A batch commits whole or not at all: a failure (disk full, I/O error) rolls every write of the
 * batch back and rejects each of them with the same coded error.
 */
export class GroupCommit {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #hooks: CommitHooks[] = [];
  #queue: Queued[] = [];
  #scheduled = false;
  #closed = false;
  #idle: Array<() => void> = [];
  /** Transactions committed so far (tests and benchmarks read it to see batching). */
  commits = 0;

  constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.#path = path;
  }

  addHooks(hooks: CommitHooks): void {
    this.#hooks.push(hooks);
  }

  /** Queues a write; resolves with its return value once its transaction is durable. */
  run<T>(op: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new RetryableError(ErrorCodes.TRANSPORT_CLOSED, `the SQLite transport on ${this.#path} is closed`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.schedule();
    });
  }

  /** Asks for a transaction even with nothing queued, so beforeCommit hooks get to write. */
  touch(): void {
    if (this.#closed) return;
    this.schedule();
  }

  /** Resolves once everything queued so far has been committed or rejected. */
  idle(): Promise<void> {
    if (!this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Commits what is queued, then refuses new writes. */
  close(): void {
    if (this.#scheduled) this.flush();
    this.#closed = true;
  }

  private schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    this.#scheduled = false;
    if (batch.length > 0 || !this.#closed) this.commit(batch);
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  private commit(batch: Queued[]): void {
    const db = this.#db;
    const results = new Array<unknown>(batch.length);
    try {
      db.exec('BEGIN');
      for (let i = 0; i < batch.length; i++) results[i] = batch[i]!.op();
      for (const h of this.#hooks) h.beforeCommit?.();
      db.exec('COMMIT');
    } catch (cause) {
      if (db.inTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // SQLite already rolled back (it does on SQLITE_FULL and some I/O errors).
        }
      }
      const error = isSwitchyardError(cause) ? cause : storageError(cause, this.#path, 'writing to');
      for (const q of batch) q.reject(error);
      for (const h of this.#hooks) h.afterRollback?.(error);
      return;
    }
    this.commits++;
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]);
    for (const h of this.#hooks) h.afterCommit?.();
  }
}
