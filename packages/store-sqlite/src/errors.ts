// Every error code of @switchyard/store-sqlite lives here. docs/errors/store-sqlite.md documents each
// one with a fix; errors.test.ts fails when a code is missing there.
import { PermanentError, RetryableError } from '@switchyard/core';

export const SqliteErrorCodes = {
  /** Constructor options are unusable (missing path, bad synchronous or retention value). */
  OPTIONS_INVALID: 'SY_SQLITE_OPTIONS_INVALID',
  /** Another live process holds the database's lock file. */
  LOCKED: 'SY_SQLITE_LOCKED',
  /** The database file or its directory cannot be created or opened. */
  OPEN_FAILED: 'SY_SQLITE_OPEN_FAILED',
  /** The file is not a SQLite database, or its pages are damaged. */
  CORRUPT: 'SY_SQLITE_CORRUPT',
  /** The file, its directory or its file system is read-only. */
  READONLY: 'SY_SQLITE_READONLY',
  /** The disk (or the configured maxSizeBytes) is full; the batch was rolled back. */
  DISK_FULL: 'SY_SQLITE_DISK_FULL',
  /** A read or write failed at the operating-system level; the batch was rolled back. */
  IO: 'SY_SQLITE_IO',
  /** The database was written by a newer @switchyard/store-sqlite. */
  SCHEMA_TOO_NEW: 'SY_SQLITE_SCHEMA_TOO_NEW',
  /** A method was called before open(). */
  NOT_OPEN: 'SY_SQLITE_NOT_OPEN',
  /** A query filter cannot be used (a time that is not ISO 8601 or epoch ms). */
  QUERY_INVALID: 'SY_SQLITE_QUERY_INVALID',
  /** A value (handler result, kv value, idempotency result) cannot be stored as JSON. */
  VALUE_UNSERIALIZABLE: 'SY_SQLITE_VALUE_UNSERIALIZABLE',
} as const;

export type SqliteErrorCode = (typeof SqliteErrorCodes)[keyof typeof SqliteErrorCodes];

const RETRYABLE = new Set<SqliteErrorCode>([SqliteErrorCodes.DISK_FULL, SqliteErrorCodes.IO]);

export function sqliteError(
  code: SqliteErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): PermanentError | RetryableError {
  return RETRYABLE.has(code)
    ? new RetryableError(code, message, options)
    : new PermanentError(code, message, options);
}

/**
 * Turns what better-sqlite3 or the file system threw into a coded error naming the database path,
 * so an operator can act without reading a stack trace.
 */
export function storageError(error: unknown, path: string, doing: string): PermanentError | RetryableError {
  const code = (error as { code?: unknown })?.code;
  const text = error instanceof Error ? error.message : String(error);
  const details = { path, sqliteCode: typeof code === 'string' ? code : undefined };
  const make = (c: SqliteErrorCode, what: string) =>
    sqliteError(c, `${doing} ${path} failed: ${what} (${text})`, { cause: error, details });
  if (typeof code !== 'string') return make(SqliteErrorCodes.IO, 'unexpected error');
  if (code === 'SQLITE_FULL' || code === 'ENOSPC')
    return make(
      SqliteErrorCodes.DISK_FULL,
      'the disk or the configured maxSizeBytes is full; nothing of this write was kept',
    );
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'))
    return make(
      SqliteErrorCodes.CORRUPT,
      'the file is not a SQLite database or is damaged; restore it from a backup or move it away',
    );
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM')
    return make(SqliteErrorCodes.READONLY, 'the file or its directory is not writable by this process');
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')
    return make(SqliteErrorCodes.OPEN_FAILED, 'cannot open the file; check store.path and its directory');
  return make(SqliteErrorCodes.IO, 'the storage layer failed; nothing of this write was kept');
}
