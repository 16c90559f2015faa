import { randomUUID } from 'node:crypto';
import {
  type DeadLetter,
  type DeadLetterFilter,
  type DeliveryStatus,
  deepFreeze,
  type ErrorInfo,
  type EventQuery,
  type SwitchyardEvent,
} from '@switchyard/core';
import type Database from 'better-sqlite3';
import { SqliteErrorCodes, sqliteError } from './errors.js';

export interface EventRow {
  seq: number;
  type: string;
  body: string;
}

export interface OutcomeRow {
  subscription: string;
  event_seq: number;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
  result: string | null;
  updated_at: number;
}

interface DeadRow {
  id: string;
  subscription: string;
  attempts: number;
  last_error: string;
  dead_at: number;
  body: string;
}

/**
 * Every statement the transport runs, prepared once. Writes here are plain statements: callers run
 * them inside a GroupCommit operation, which owns the transaction.
 */
export class Queries {
  readonly #db: Database.Database;
  readonly #cache = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.#cache.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#cache.set(sql, s);
    }
    return s;
  }

  parseEvent(body: string): SwitchyardEvent {
    return deepFreeze(JSON.parse(body) as SwitchyardEvent);
  }

  // --- events

  tailSeq(): number {
    return (this.stmt('SELECT coalesce(max(seq), 0) AS s FROM events').get() as { s: number }).s;
  }

  /** Inserts unless the id or the delivery key is taken; returns the new seq or undefined. */
  insertEvent(event: SwitchyardEvent, body: string, deliveryKey: string | undefined): number | undefined {
    const info = this.stmt(
      `INSERT INTO events (id, type, subject, time_ms, correlation_id, delivery_key, body)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ).run(
      event.id,
      event.type,
      event.subject ?? null,
      timeMs(event.time),
      event.correlationid,
      deliveryKey ?? null,
      body,
    );
    return info.changes === 1 ? Number(info.lastInsertRowid) : undefined;
  }

  eventBodyByDeliveryKey(key: string): string | undefined {
    return (
      this.stmt('SELECT body FROM events WHERE delivery_key = ?').get(key) as { body: string } | undefined
    )?.body;
  }

  eventById(id: string): { seq: number; body: string } | undefined {
    return this.stmt('SELECT seq, body FROM events WHERE id = ?').get(id) as
      | { seq: number; body: string }
      | undefined;
  }

  eventsAfter(seq: number, upTo: number, limit: number): EventRow[] {
    return this.stmt(
      'SELECT seq, type, body FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
    ).all(seq, upTo, limit) as EventRow[];
  }

  correlationChain(correlationId: string): SwitchyardEvent[] {
    const rows = this.stmt('SELECT body FROM events WHERE correlation_id = ?').all(correlationId) as {
      body: string;
    }[];
    return rows.map((r) => this.parseEvent(r.body));
  }

  query(filter: EventQuery): SwitchyardEvent[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.type !== undefined) {
      where.push('type = ?');
      params.push(filter.type);
    }
    if (filter.subject !== undefined) {
      where.push('subject = ?');
      params.push(filter.subject);
    }
    if (filter.correlationId !== undefined) {
      where.push('correlation_id = ?');
      params.push(filter.correlationId);
    }
    if (filter.since !== undefined) {
      where.push('time_ms >= ?');
      params.push(toTimeMs(filter.since, 'since'));
    }
    if (filter.until !== undefined) {
      where.push('time_ms <= ?');
      params.push(toTimeMs(filter.until, 'until'));
    }
    const dir = filter.newestFirst ? 'DESC' : 'ASC';
    const sql = `SELECT body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY time_ms ${dir}, id ${dir} LIMIT ?`;
    params.push(filter.limit ?? 100);
    const rows = this.stmt(sql).all(...params) as { body: string }[];
    return rows.map((r) => this.parseEvent(r.body));
  }

  // --- consumers

  consumer(id: string): { cursor: number; types: string } | undefined {
    return this.stmt('SELECT cursor, types FROM consumers WHERE id = ?').get(id) as
      | { cursor: number; types: string }
      | undefined;
  }

  /** Creates the consumer at the current tail (it receives what is appended from now on). */
  createConsumer(id: string, types: readonly string[], now: number): number {
    const cursor = this.tailSeq();
    this.stmt(
      'INSERT INTO consumers (id, types, cursor, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ).run(id, JSON.stringify(types), cursor, now, now);
    return this.consumer(id)!.cursor;
  }

  updateConsumerTypes(id: string, types: readonly string[], now: number): void {
    this.stmt('UPDATE consumers SET types = ?, updated_at = ? WHERE id = ?').run(
      JSON.stringify(types),
      now,
      id,
    );
  }

  saveCursor(id: string, cursor: number, now: number): void {
    this.stmt('UPDATE consumers SET cursor = ?, updated_at = ? WHERE id = ? AND cursor < ?').run(
      cursor,
      now,
      id,
      cursor,
    );
  }

  consumers(): Array<{ id: string; cursor: number; types: string }> {
    return this.stmt('SELECT id, cursor, types FROM consumers').all() as Array<{
      id: string;
      cursor: number;
      types: string;
    }>;
  }

  deleteConsumer(id: string): void {
    this.stmt('DELETE FROM consumers WHERE id = ?').run(id);
    this.stmt("DELETE FROM deliveries WHERE subscription = ? AND status IN ('pending', 'retrying')").run(id);
  }

  minCursor(): number | undefined {
    return (this.stmt('SELECT min(cursor) AS c FROM consumers').get() as { c: number | null }).c ?? undefined;
  }

  // --- delivery outcomes

  putOutcome(
    subscription: string,
    seq: number,
    status: DeliveryStatus,
    attempts: number,
    nextAttemptAt: number | null,
    lastError: string | null,
    result: string | null,
    now: number,
  ): void {
    this.stmt(
      `INSERT OR REPLACE INTO deliveries
       (subscription, event_seq, status, attempts, next_attempt_at, last_error, result, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(subscription, seq, status, attempts, nextAttemptAt, lastError, result, now);
  }

  outcomesOf(seq: number): OutcomeRow[] {
    return this.stmt('SELECT * FROM deliveries WHERE event_seq = ?').all(seq) as OutcomeRow[];
  }

  outcomeSeqsAfter(subscription: string, cursor: number): number[] {
    return (
      this.stmt('SELECT event_seq FROM deliveries WHERE subscription = ? AND event_seq > ?').all(
        subscription,
        cursor,
      ) as {
        event_seq: number;
      }[]
    ).map((r) => r.event_seq);
  }

  dueDeliveries(
    subscription: string,
    now: number,
    limit: number,
  ): Array<{ seq: number; attempts: number; body: string }> {
    return this.stmt(
      `SELECT d.event_seq AS seq, d.attempts AS attempts, e.body AS body
       FROM deliveries d JOIN events e ON e.seq = d.event_seq
       WHERE d.subscription = ? AND d.status IN ('pending', 'retrying') AND d.next_attempt_at <= ?
       ORDER BY d.next_attempt_at, d.event_seq LIMIT ?`,
    ).all(subscription, now, limit) as Array<{ seq: number; attempts: number; body: string }>;
  }

  nextDueAt(subscription: string, now: number): number | undefined {
    const row = this.stmt(
      `SELECT min(next_attempt_at) AS at FROM deliveries
       WHERE subscription = ? AND status IN ('pending', 'retrying') AND next_attempt_at > ?`,
    ).get(subscription, now) as { at: number | null };
    return row.at ?? undefined;
  }

  // --- dead letters

  insertDeadLetter(
    subscription: string,
    seq: number,
    type: string,
    attempts: number,
    error: string,
    now: number,
  ): void {
    this.stmt(
      `INSERT INTO dead_letters (id, subscription, event_seq, event_type, attempts, last_error, dead_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(randomUUID(), subscription, seq, type, attempts, error, now);
  }

  deadLetters(filter: DeadLetterFilter): DeadLetter[] {
    const rows = this.stmt(
      `SELECT x.id, x.subscription, x.attempts, x.last_error, x.dead_at, e.body
       FROM dead_letters x JOIN events e ON e.seq = x.event_seq
       WHERE (@id IS NULL OR x.id = @id) AND (@sub IS NULL OR x.subscription = @sub)
         AND (@type IS NULL OR x.event_type = @type)
       ORDER BY x.rowid LIMIT @limit`,
    ).all(deadParams(filter)) as DeadRow[];
    return rows.map((r) => ({
      id: r.id,
      subscription: r.subscription,
      event: this.parseEvent(r.body),
      attempts: r.attempts,
      lastError: JSON.parse(r.last_error) as ErrorInfo,
      deadAt: new Date(r.dead_at).toISOString(),
    }));
  }

  /** Matching dead letters, for replay/drop inside one transaction. */
  deadLetterKeys(filter: DeadLetterFilter): Array<{ id: string; subscription: string; event_seq: number }> {
    return this.stmt(
      `SELECT id, subscription, event_seq FROM dead_letters
       WHERE (@id IS NULL OR id = @id) AND (@sub IS NULL OR subscription = @sub) AND (@type IS NULL OR event_type = @type)
       ORDER BY rowid LIMIT @limit`,
    ).all(deadParams(filter)) as Array<{
      id: string;
      subscription: string;
      event_seq: number;
    }>;
  }

  deleteDeadLetter(id: string): void {
    this.stmt('DELETE FROM dead_letters WHERE id = ?').run(id);
  }

  // --- idempotency and kv

  idempotency(key: string): { result: string | null; at: number } | undefined {
    return this.stmt('SELECT result, at FROM idempotency WHERE key = ?').get(key) as
      | { result: string | null; at: number }
      | undefined;
  }

  putIdempotency(key: string, result: string | null, now: number): void {
    this.stmt('INSERT OR REPLACE INTO idempotency (key, result, at) VALUES (?, ?, ?)').run(key, result, now);
  }

  kvGet(namespace: string, key: string): { value: string; revision: number } | undefined {
    return this.stmt('SELECT value, revision FROM kv WHERE namespace = ? AND key = ?').get(namespace, key) as
      | { value: string; revision: number }
      | undefined;
  }

  kvPut(namespace: string, key: string, value: string): number {
    const { revision } = this.stmt(
      `INSERT INTO kv_revisions (namespace, revision) VALUES (?, 1)
       ON CONFLICT (namespace) DO UPDATE SET revision = revision + 1 RETURNING revision`,
    ).get(namespace) as { revision: number };
    this.stmt('INSERT OR REPLACE INTO kv (namespace, key, value, revision) VALUES (?, ?, ?, ?)').run(
      namespace,
      key,
      value,
      revision,
    );
    return revision;
  }

  kvDelete(namespace: string, key: string): void {
    this.stmt('DELETE FROM kv WHERE namespace = ? AND key = ?').run(namespace, key);
  }

  kvKeys(namespace: string, prefix: string): string[] {
    return (
      this.stmt(
        'SELECT key FROM kv WHERE namespace = @ns AND substr(key, 1, length(@prefix)) = @prefix ORDER BY key',
      ).all({ ns: namespace, prefix }) as { key: string }[]
    ).map((r) => r.key);
  }

  // --- retention

  /** Oldest events that may go: past every consumer, no pending retry, no dead letter. */
  prunable(bound: number, cutoffMs: number | null, countBound: number | null, limit: number): number[] {
    return (
      this.stmt(
        `SELECT seq FROM events e
         WHERE e.seq <= @bound AND ((@cutoff IS NOT NULL AND e.time_ms < @cutoff) OR (@count IS NOT NULL AND e.seq <= @count))
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status IN ('pending', 'retrying'))
           AND NOT EXISTS (SELECT 1 FROM dead_letters x WHERE x.event_seq = e.seq)
         ORDER BY e.seq LIMIT @limit`,
      ).all({ bound, cutoff: cutoffMs, count: countBound, limit }) as { seq: number }[]
    ).map((r) => r.seq);
  }

  deleteEvent(seq: number): void {
    this.stmt('DELETE FROM deliveries WHERE event_seq = ?').run(seq);
    this.stmt('DELETE FROM events WHERE seq = ?').run(seq);
  }

  pruneIdempotency(cutoffMs: number, limit: number): number {
    return this.stmt(
      'DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE at < ? LIMIT ?)',
    ).run(cutoffMs, limit).changes;
  }
}

function deadParams(filter: DeadLetterFilter): Record<string, unknown> {
  return {
    id: filter.id ?? null,
    sub: filter.subscription ?? null,
    type: filter.type ?? null,
    limit: filter.limit ?? -1,
  };
}

export function timeMs(time: string): number {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? 0 : ms;
}

function toTimeMs(value: string | number, name: string): number {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (Number.isNaN(ms)) {
    throw sqliteError(
      SqliteErrorCodes.QUERY_INVALID,
      `query.${name} must be an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}
