import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Calls back once everything written to the file before the call is on disk. */
export type FileSync = (done: (error?: Error | null) => void) => void;

/**
 * The database file and its `-wal`, synced by us instead of by SQLite. In WAL mode a commit only
 * appends frames to the WAL, so fdatasync of it is exactly the sync SQLite's synchronous=FULL does
 * at each COMMIT, and a checkpoint needs the WAL synced before it copies pages into the database
 * and the database synced before the WAL is reused. Running both through fs.fdatasync puts them
 * on libuv's thread pool, off the event loop.
 */
export class StoreFiles {
  readonly walPath: string;
  readonly #dbFd: number;
  #walFd: number;
  #walIno: number;

  /** Call once the database is open in WAL mode and has written (the WAL exists). */
  constructor(databasePath: string) {
    this.walPath = `${databasePath}-wal`;
    this.#dbFd = openSync(databasePath, 'r+');
    let wal: number | undefined;
    try {
      wal = openSync(this.walPath, 'r+');
      this.#walFd = wal;
      this.#walIno = fstatSync(wal).ino;
      // What is in the WAL now (the schema, or commits a killed process left in the page cache)
      // is read as committed from here on, so it goes to disk before the store opens.
      fdatasyncSync(wal);
      // The WAL's directory entry must be on disk too, or a power loss could drop the whole file.
      const dir = openSync(dirname(this.walPath), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (error) {
      if (wal !== undefined) closeSync(wal);
      closeSync(this.#dbFd);
      throw error;
    }
  }

  // No stat of the file on this path: a stat (even an fstat) right before the fdatasync made each
  // sync ~60 µs slower on the machine of bench/RESULTS.md. checkFile() runs at checkpoints instead.
  readonly syncWal: FileSync = (done) => {
    fdatasync(this.#walFd, done);
  };

  /**
   * SQLite keeps the WAL file for as long as it holds the database in exclusive mode (it is reset in
   * place after a checkpoint, never deleted); should it ever have been replaced, sync the new one.
   */
  checkFile(): void {
    const ino = statSync(this.walPath).ino;
    if (ino === this.#walIno) return;
    closeSync(this.#walFd);
    this.#walFd = openSync(this.walPath, 'r+');
    this.#walIno = ino;
    fdatasyncSync(this.#walFd);
  }

  readonly syncDatabase: FileSync = (done) => {
    fdatasync(this.#dbFd, done);
  };

  close(): void {
    for (const fd of [this.#walFd, this.#dbFd]) {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }
  }
}
