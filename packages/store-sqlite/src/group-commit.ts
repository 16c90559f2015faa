import { ErrorCodes, isSwitchyardError, RetryableError } from '@switchyard/core';
import type Database from 'better-sqlite3';
import { SqliteErrorCodes, sqliteError, storageError } from './errors.js';
import type { FileSync } from './wal-sync.js';

interface Queued {
  op: () => unknown;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
  durable: boolean;
}

interface Waiting {
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
  result: unknown;
  /** The last commit this write can depend on: it resolves once that one is synced. */
  commit: number;
}

export interface CommitHooks {
  /** Runs inside every transaction after the queued operations (consumers persist positions). */
  beforeCommit?: () => void;
  /** Runs once the transaction is committed: it survives a crash of this process. */
  afterCommit?: (commit: number) => void;
  /**
   * Runs once every transaction up to `commit` is on disk (survives power loss). With a sync
   * failure `error` is set: the rows are in the database but may not be on disk.
   */
  afterSync?: (commit: number, error?: Error) => void;
  /** Runs when the transaction was rolled back. */
  afterRollback?: (error: Error) => void;
}

export interface Disk {
  syncWal: FileSync;
  syncDatabase: FileSync;
  /** Called at checkpoints: makes sure syncWal syncs the WAL file that is there now. */
  checkWal?: () => void;
  /** true (synchronous: full): a durable write resolves only once the WAL is synced after it. */
  syncEachCommit: boolean;
}

export interface RunOptions {
  /**
   * true (default): with synchronous: full, resolve once the write is on disk (survives power
   * loss). false: resolve once it is committed (survives a crash of the process; on disk at the next
   * sync, which follows within BOOKKEEPING_SYNC_MS). Delivery bookkeeping uses false so a consumer
   * never waits for the disk.
   */
  durable?: boolean;
  /**
   * Commit in a transaction of its own right away instead of at the end of this turn of the event
   * loop (only with durable: false; queued as usual while a checkpoint runs). For a write a caller
   * waits on before it can go on (an action's idempotency record holds its delivery's slot): it
   * saves that caller the wait for the rest of the turn, at the price of a transaction for one row.
   */
  now?: boolean;
}

/**
 * How long commits that nobody waits on (delivery outcomes, idempotency records, positions) may
 * stay unsynced when no durable write comes along to take them to disk. Syncing them at once
 * would start a sync just before the next appends arrive and make those wait for two.
 */
export const BOOKKEEPING_SYNC_MS = 20;

/** WAL frames (pages) that trigger a checkpoint: SQLite's own default for wal_autocheckpoint. */
export const CHECKPOINT_FRAMES = 1000;

/** Commits between two looks at the WAL's size (each look, a PRAGMA, costs ~15 µs here). */
const FRAME_CHECK_COMMITS = 8;

/**
 * Every write goes through here. Writes queued while nothing is committing start a transaction on
 * the next turn of the event loop (setImmediate), so publishers that arrive together share one
 * commit; the next batch starts as soon as this one ends, with no fixed timer. A batch commits whole
 * or not at all: a failure (disk full, I/O error) rolls every write of the batch back and rejects
 * each of them with the same coded error.
 *
 * SQLite runs with synchronous=NORMAL and without automatic checkpoints, so COMMIT only writes the
 * WAL and commits are synced on libuv's pool (`disk`), not on the main thread (SQLite itself still
 * syncs the WAL header on the first commit after each WAL restart, and open/close sync in place):
 * - synchronous: full — the WAL is synced after commits, and durable writes resolve after the sync
 *   that follows their commit. The loop keeps parsing requests and committing the next batches
 *   while the disk syncs, and one sync covers every commit made before it started (WAL frames are
 *   appended in commit order, so what is on disk after any sync is a prefix of the commits).
 * - checkpoints (both modes): once the WAL holds CHECKPOINT_FRAMES, new commits wait while the
 *   WAL is synced, its pages are copied into the database (SQLite with synchronous=OFF: the copy
 *   only, well under a millisecond here) and the database is synced; then the WAL is reused. This
 *   is the order SQLite's own checkpoint keeps, minus its two fsyncs on the main thread.
 *
 * Measured against the alternative of letting SQLite fsync in COMMIT (synchronous=FULL for batches
 * with durable writes, NORMAL for bookkeeping): that one appends ~25 % faster from a tight loop of
 * publishers with nothing else to do (the hand-over to the pool thread and back costs ~60-100 µs on
 * the 2-core VM of bench/RESULTS.md), but with webhooks arriving and a rule at concurrency 1, the
 * fsyncs on the event loop left the rule seconds behind where this design keeps up.
 */
export class GroupCommit {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #disk: Disk | undefined;
  readonly #hooks: CommitHooks[] = [];
  readonly #totalChanges: Database.Statement;
  readonly #walFrames: Database.Statement | undefined;
  #queue: Queued[] = [];
  #scheduled = false;
  #closed = false;
  #idle: Array<() => void> = [];
  /** Durable writes committed but not yet synced, oldest first. */
  #unsynced: Waiting[] = [];
  /**
   * One WAL sync at a time: commits made meanwhile wait for the next one and share it. (Starting a
   * sync per commit while one runs cut the wait of a lone publisher, but split ingest into more,
   * smaller commits and made the daemon slower under webhook load; see bench/RESULTS.md.)
   */
  #syncing = false;
  /** Highest commit a started WAL sync covers (a sync covers every commit made before it began). */
  #walCovered = 0;
  /** Highest commit a finished WAL sync covers: on disk. */
  #walSynced = 0;
  /** Highest commit whose durable writes are resolved: #walSynced (full) or every commit (normal). */
  #synced = 0;
  /**
   * A sync failed: the store takes no more writes until the process restarts. Linux marks the pages
   * of a failed writeback clean and reports the error once, so a later sync that succeeds proves
   * nothing about them (PostgreSQL panics for the same reason), and reusing the WAL after a failed
   * database sync at a checkpoint could lose pages the WAL held. After a restart SQLite reads the
   * WAL as it is on disk and the next checkpoint copies and syncs it again.
   */
  #broken: Error | undefined;
  #syncTimer: NodeJS.Timeout | undefined;
  /** 'due': commits wait until everything is synced; 'running': pages copied, database syncing. */
  #checkpoint: 'none' | 'due' | 'running' = 'none';
  #framesCheckedAt = 0;
  /** Transactions committed so far (tests and benchmarks read it to see batching). */
  commits = 0;
  /** WAL syncs completed so far. */
  syncs = 0;
  /** Checkpoints completed so far. */
  checkpoints = 0;
  /** Called with a failed checkpoint's copy error (the next one tries again). */
  onCheckpointError: ((error: Error) => void) | undefined;
  /** Called once when a sync fails and the store stops taking writes. */
  onFailure: ((error: Error) => void) | undefined;

  constructor(db: Database.Database, path: string, disk?: Disk) {
    this.#db = db;
    this.#path = path;
    this.#disk = disk;
    this.#totalChanges = db.prepare('SELECT total_changes()').pluck();
    if (disk) {
      db.pragma('wal_autocheckpoint = 0');
      this.#walFrames = db.prepare('PRAGMA wal_checkpoint(NOOP)');
    }
  }

  addHooks(hooks: CommitHooks): void {
    this.#hooks.push(hooks);
  }

  /** Queues a write; resolves with its return value once its transaction is committed (and synced). */
  run<T>(op: () => T, options: RunOptions = {}): Promise<T> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#closed) {
      return Promise.reject(
        new RetryableError(ErrorCodes.TRANSPORT_CLOSED, `the SQLite transport on ${this.#path} is closed`),
      );
    }
    if (options.now && options.durable === false && this.#checkpoint === 'none') {
      return new Promise<T>((resolve, reject) => {
        this.commit([{ op, resolve, reject, durable: false }]);
      });
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject, durable: options.durable !== false });
      this.schedule();
    });
  }

  /** Asks for a transaction even with nothing queued, so beforeCommit hooks get to write. */
  touch(): void {
    if (this.#closed || this.#broken) return;
    this.schedule();
  }

  /** Resolves once everything queued so far has been committed, synced or rejected. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    // Someone waits: sync what is committed now rather than when the bookkeeping timer fires.
    if (!this.#scheduled) this.startSync();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Commits what is queued, refuses new writes, and resolves once the last commit is synced. */
  async close(): Promise<void> {
    if (this.#scheduled && this.#checkpoint === 'none' && !this.#broken) this.flush();
    this.#closed = true;
    await this.idle();
  }

  private isIdle(): boolean {
    if (this.#broken) return !this.#syncing && this.#checkpoint !== 'running';
    return (
      !this.#scheduled &&
      !this.#syncing &&
      this.#checkpoint === 'none' &&
      this.#queue.length === 0 &&
      (!this.#disk?.syncEachCommit || this.#walSynced === this.commits)
    );
  }

  private schedule(): void {
    if (this.#scheduled || this.#checkpoint !== 'none') return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.#scheduled = false;
    if (this.#broken) return;
    if (this.#checkpoint !== 'none') return; // resumes once the checkpoint is done
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length > 0 || !this.#closed) this.commit(batch);
    this.settleIdle();
  }

  private commit(batch: Queued[]): void {
    const db = this.#db;
    const results = new Array<unknown>(batch.length);
    let changed: boolean;
    try {
      const before = this.#totalChanges.get() as number;
      db.exec('BEGIN');
      for (let i = 0; i < batch.length; i++) results[i] = batch[i]!.op();
      for (const h of this.#hooks) h.beforeCommit?.();
      changed = (this.#totalChanges.get() as number) !== before;
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
    // A transaction that changed nothing wrote no WAL frame: it needs no sync of its own, but a
    // durable read in it (a duplicate append) may have seen a commit that is not synced yet.
    if (changed) this.commits++;
    const commit = this.commits;
    const wait = this.#disk?.syncEachCommit === true && this.#synced < commit;
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i]!;
      if (q.durable && wait) {
        this.#unsynced.push({ resolve: q.resolve, reject: q.reject, result: results[i], commit });
      } else q.resolve(results[i]);
    }
    if (!changed) {
      if (wait && this.#unsynced.length > 0) this.startSync();
      return;
    }
    for (const h of this.#hooks) h.afterCommit?.(commit);
    if (!this.#disk?.syncEachCommit) {
      // synchronous: normal — committed is all there is until the next checkpoint syncs the WAL.
      this.#synced = commit;
      for (const h of this.#hooks) h.afterSync?.(commit);
      if (this.#disk) this.checkpointIfDue();
      return;
    }
    this.syncSoon();
  }

  /** Syncs now when a durable write (or an idle() caller) waits, else within BOOKKEEPING_SYNC_MS. */
  private syncSoon(): void {
    if (this.#unsynced.length > 0 || this.#idle.length > 0 || this.#checkpoint === 'due') {
      this.startSync();
    } else if (!this.#syncTimer && !this.#syncing && this.#walCovered < this.commits) {
      this.#syncTimer = setTimeout(() => {
        this.#syncTimer = undefined;
        this.startSync();
      }, BOOKKEEPING_SYNC_MS);
      this.#syncTimer.unref();
    }
  }

  private startSync(): void {
    const disk = this.#disk;
    if (!disk || this.#broken) return;
    // With synchronous: normal commits count as synced at once; the WAL only needs a sync of its
    // own before a checkpoint copies it.
    if (!disk.syncEachCommit && this.#checkpoint !== 'due') return;
    if (this.#syncing) return; // the next one starts when this one ends
    if (this.#walCovered === this.commits) {
      if (this.#checkpoint === 'due') this.runCheckpoint();
      return;
    }
    if (this.#syncTimer) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
    }
    this.#syncing = true;
    const upTo = this.commits;
    this.#walCovered = upTo;
    disk.syncWal((cause) => this.synced(upTo, cause ?? undefined));
  }

  private synced(upTo: number, cause: Error | undefined): void {
    this.#syncing = false;
    this.syncs++;
    if (cause) {
      this.fail(this.syncError(cause));
      return;
    }
    this.#walSynced = upTo;
    if (this.#disk!.syncEachCommit) {
      this.#synced = upTo;
      let done = 0;
      while (done < this.#unsynced.length && this.#unsynced[done]!.commit <= upTo) {
        const w = this.#unsynced[done++]!;
        w.resolve(w.result);
      }
      this.#unsynced.splice(0, done);
      for (const h of this.#hooks) h.afterSync?.(upTo);
    }
    if (this.#checkpoint === 'due') {
      this.startSync(); // runs the checkpoint once every commit is synced
    } else {
      this.checkpointIfDue();
      if (this.#checkpoint === 'none') this.syncSoon();
    }
    this.settleIdle();
  }

  /** Starts a checkpoint once the WAL holds CHECKPOINT_FRAMES not yet copied into the database. */
  private checkpointIfDue(): void {
    if (this.#checkpoint !== 'none' || this.#closed) return;
    if (this.commits - this.#framesCheckedAt < FRAME_CHECK_COMMITS) return;
    this.#framesCheckedAt = this.commits;
    const row = this.#walFrames!.get() as { log: number; checkpointed: number };
    if (row.log - row.checkpointed < CHECKPOINT_FRAMES) return;
    this.#checkpoint = 'due';
    this.startSync();
  }

  /** Every commit is synced and none can start: copy the WAL into the database, then sync it. */
  private runCheckpoint(): void {
    this.#checkpoint = 'running';
    const db = this.#db;
    try {
      this.#disk!.checkWal?.();
      // OFF: the WAL is synced already and the database is synced below, off the main thread.
      db.pragma('synchronous = OFF');
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
      } finally {
        db.pragma('synchronous = NORMAL');
      }
    } catch (cause) {
      this.onCheckpointError?.(storageError(cause, this.#path, 'checkpointing'));
    }
    // Synced even after a failed copy: pages it did write must be on disk before the WAL is reused.
    this.#disk!.syncDatabase((cause) => {
      if (cause) {
        // The WAL must not be reused: its frames may be all there is of pages the copy wrote.
        this.#checkpoint = 'none';
        this.fail(this.syncError(cause, this.#path));
        return;
      }
      this.checkpoints++;
      this.resumeAfterCheckpoint();
    });
  }

  private resumeAfterCheckpoint(): void {
    this.#checkpoint = 'none';
    // Also when nothing is queued: a touch() (a consumer position to write) may have come meanwhile.
    if (!this.#closed || this.#queue.length > 0) this.schedule();
    this.syncSoon();
    this.settleIdle();
  }

  private syncError(cause: Error, file = `${this.#path}-wal`): Error {
    return sqliteError(
      SqliteErrorCodes.IO,
      `syncing ${file} to disk failed (${cause.message}): the store takes no more writes; check the disk and the kernel log (dmesg), then restart the daemon`,
      { cause, details: { path: this.#path, sqliteCode: (cause as { code?: string }).code } },
    );
  }

  /** Stops taking writes for good (see #broken); every writer waiting or queued is told why. */
  private fail(error: Error): void {
    this.#broken = error;
    if (this.#syncTimer) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
    }
    const waiting = [...this.#unsynced, ...this.#queue];
    this.#unsynced = [];
    this.#queue = [];
    for (const w of waiting) w.reject(error);
    this.onFailure?.(error);
    for (const h of this.#hooks) h.afterSync?.(this.#synced, error);
    this.settleIdle();
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}
