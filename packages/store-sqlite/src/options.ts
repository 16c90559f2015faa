import type { Clock, Logger } from '@switchyard/core';
import { SqliteErrorCodes, sqliteError } from './errors.js';
import type { RetentionOptions } from './retention.js';
import type { Synchronous } from './schema.js';

export interface SqliteTransportOptions {
  /** Database file; created with its directory when missing (`store.path` in switchyard.yaml). */
  path: string;
  clock?: Clock;
  logger?: Logger;
  /**
   * 'full' (default): a commit is fsynced before append resolves; an acknowledged event survives
   * power loss. 'normal': WAL commits are fsynced at checkpoints only; an acknowledged event
   * survives a crash of the process but the last commits can be lost on power loss or an OS crash.
   */
  synchronous?: Synchronous;
  retention?: RetentionOptions;
  /** Caps the database size; writes beyond it fail with SY_SQLITE_DISK_FULL. */
  maxSizeBytes?: number;
}

export interface ValidOptions {
  path: string;
  synchronous: Synchronous;
  retention: RetentionOptions;
  maxSizeBytes: number | undefined;
}

export function validateOptions(options: SqliteTransportOptions): ValidOptions {
  const problems: string[] = [];
  const o = (options ?? {}) as Partial<SqliteTransportOptions>;
  if (typeof o.path !== 'string' || o.path.trim() === '') {
    problems.push('store.path must be the path of the database file, e.g. ./data/switchyard.db');
  } else if (o.path === ':memory:' || o.path.startsWith('file:')) {
    problems.push(
      `store.path "${o.path}" is not a file path; use store: { kind: memory } for an in-memory store`,
    );
  }
  const synchronous = o.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') {
    problems.push(`store.synchronous must be "full" or "normal", got ${JSON.stringify(o.synchronous)}`);
  }
  const retention = o.retention ?? {};
  if (typeof retention !== 'object' || retention === null) {
    problems.push('store.retention must be an object: { maxAgeMs?, maxEvents?, intervalMs? }');
  } else {
    positive(retention.maxAgeMs, 'store.retention.maxAgeMs', problems);
    positive(retention.maxEvents, 'store.retention.maxEvents', problems, true);
    positive(retention.intervalMs, 'store.retention.intervalMs', problems);
  }
  positive(o.maxSizeBytes, 'store.maxSizeBytes', problems, true);
  if (problems.length > 0) {
    throw sqliteError(
      SqliteErrorCodes.OPTIONS_INVALID,
      `invalid SQLite store options: ${problems.join('; ')}`,
      {
        details: { problems },
      },
    );
  }
  return { path: o.path!, synchronous, retention, maxSizeBytes: o.maxSizeBytes };
}

function positive(value: unknown, name: string, problems: string[], integer = false): void {
  if (value === undefined) return;
  if (
    typeof value !== 'number' ||
    !(value > 0) ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value))
  ) {
    problems.push(
      `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`,
    );
  }
}
