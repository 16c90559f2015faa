import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type AppendOptions,
  type AppendResult,
  type Clock,
  type Consumer,
  type ConsumerSpec,
  type DeadLetter,
  type DeadLetterFilter,
  type DeliveryHandler,
  type DeliveryRecord,
  ErrorCodes,
  type ErrorInfo,
  type EventQuery,
  type IdempotencyRecord,
  type IdempotencyStore,
  type KeyValueStore,
  type KvEntry,
  type Logger,
  matchesTypes,
  RetryableError,
  type SwitchyardEvent,
  selectTrace,
  systemClock,
  type Transport,
  type TransportHealth,
} from '@switchyard/core';
import Database from 'better-sqlite3';
import { type ConsumerContext, SqliteConsumer } from './consumer.js';
import { SqliteErrorCodes, sqliteError, storageError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { LockNote } from './lock.js';
import { type SqliteTransportOptions, validateOptions } from './options.js';
import { Queries } from './queries.js';
import { Retention } from './retention.js';
import { prepareDatabase } from './schema.js';
import { StoreFiles } from './wal-sync.js';

interface Open {
  db: Database.Database;
  queries: Queries;
  commit: GroupCommit;
  retention: Retention;
  files: StoreFiles;
}

/**
 * The default durable transport: one SQLite file in WAL mode, written by this process only.
 * Appends resolve once committed and synced; concurrent appends share a commit and a sync (see
 * GroupCommit). Consumers receive an event only once it is synced, so no side effect ever runs for
 * an event a power loss could take back.
 */
export class SqliteTransport implements Transport {
  readonly kind = 'sqlite';
  /** Absolute path of the database file. */
  readonly path: string;
  readonly #options: ReturnType<typeof validateOptions>;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #lock: LockNote;
  readonly #consumers = new Map<string, SqliteConsumer>();
  #open: Open | undefined;
  #closed = false;
  /** Highest seq synced and handed to consumers; events past it wait for their sync. */
  #tail = 0;
  /** Events inserted by the transaction being built. */
  #appended: Array<{ seq: number; event: SwitchyardEvent }> = [];
  /** Events of committed transactions, handed to consumers once their commit is synced. */
  #unsynced: Array<{ commit: number; events: Array<{ seq: number; event: SwitchyardEvent }> }> = [];
  /** Cursors written by the transaction being built. */
  #cursorWrites: Array<[SqliteConsumer, number]> = [];
  #writeError: Error | undefined;
  #syncError: Error | undefined;

  constructor(options: SqliteTransportOptions) {
    this.#options = validateOptions(options);
    this.path = resolve(this.#options.path);
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#lock = new LockNote(this.path);
  }

  async open(): Promise<void> {
    if (this.#open) return;
    if (this.#closed) throw this.closedError();
    try {
      ensureDirectory(dirname(this.path));
    } catch (error) {
      throw storageError(error, dirname(this.path), 'creating the directory of');
    }
    let db: Database.Database;
    try {
      // timeout 0: a database another process holds fails now, with a clear error, not in 5 s.
      db = new Database(this.path, { timeout: 0 });
    } catch (error) {
      throw storageError(error, this.path, 'opening');
    }
    let files: StoreFiles;
    try {
      prepareDatabase(db, { maxSizeBytes: this.#options.maxSizeBytes });
      files = new StoreFiles(this.path);
    } catch (error) {
      db.close();
      const code = (error as { code?: unknown }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw this.#lock.heldError(this.path, error);
      if (typeof code === 'string' && code.startsWith('SY_')) throw error;
      throw storageError(error, this.path, 'opening');
    }
    this.#lock.write();
    const queries = new Queries(db);
    const commit = new GroupCommit(db, this.path, {
      syncWal: files.syncWal,
      syncDatabase: files.syncDatabase,
      checkWal: () => files.checkFile(),
      syncEachCommit: this.#options.synchronous === 'full',
    });
    commit.onCheckpointError = (error) =>
      this.#logger?.error({ err: error.message, path: this.path }, 'checkpointing the event store failed');
    const retention = new Retention(this.#options.retention, queries, commit, this.#clock, this.#logger);
    commit.addHooks({
      beforeCommit: () => {
        const now = this.#clock.now();
        for (const consumer of this.#consumers.values()) {
          const cursor = consumer.dirtyCursor();
          if (cursor === undefined) continue;
          queries.saveCursor(consumer.id, cursor, now);
          this.#cursorWrites.push([consumer, cursor]);
        }
      },
      afterCommit: (n) => {
        this.#writeError = undefined;
        for (const [consumer, cursor] of this.#cursorWrites) consumer.cursorPersisted(cursor);
        this.#cursorWrites = [];
        if (this.#appended.length === 0) return;
        this.#unsynced.push({ commit: n, events: this.#appended });
        this.#appended = [];
      },
      afterSync: (n, error) => {
        if (error) {
          // The store is out of service until a restart (GroupCommit#broken); events of commits no
          // sync covered are not handed to consumers, since a power loss could take them back: a
          // restart delivers whatever the file holds.
          this.#syncError = error;
          this.#logger?.error({ err: error.message, path: this.path }, 'syncing the event store failed');
          return;
        }
        let done = 0;
        while (done < this.#unsynced.length && this.#unsynced[done]!.commit <= n) done++;
        // Taken out first: a handler started here may write (an idempotency record commits at
        // once), and with synchronous: normal that commit calls this hook again.
        for (const { events } of this.#unsynced.splice(0, done)) {
          const before = this.#tail;
          this.#tail = events[events.length - 1]!.seq;
          for (const consumer of this.#consumers.values()) consumer.appended(events, before);
        }
      },
      afterRollback: (error) => {
        this.#writeError = error;
        this.#appended = [];
        this.#cursorWrites = [];
        this.#logger?.error(
          { err: error.message, path: this.path },
          'a write to the event store was rolled back',
        );
      },
    });
    this.#tail = queries.tailSeq();
    this.#open = { db, queries, commit, retention, files };
    retention.start();
  }

  async append(event: SwitchyardEvent, options: AppendOptions = {}): Promise<AppendResult> {
    const { queries, commit } = this.opened();
    const body = JSON.stringify(event);
    const key = options.deliveryKey;
    return commit.run(() => {
      // The INSERT detects both duplicates (UNIQUE id and delivery key): look the first event up
      // only when it inserted nothing, the delivery key first as before.
      const seq = queries.insertEvent(event, body, key);
      if (seq === undefined) {
        const seen = key === undefined ? undefined : queries.eventBodyByDeliveryKey(key);
        return { event: queries.parseEvent(seen ?? queries.eventById(event.id)!.body), duplicate: true };
      }
      this.#appended.push({ seq, event });
      return { event, duplicate: false };
    });
  }

  async consume(spec: ConsumerSpec, handler: DeliveryHandler): Promise<Consumer> {
    const { queries, commit } = this.opened();
    let consumer = this.#consumers.get(spec.id);
    if (consumer?.active) {
      throw new RetryableError(ErrorCodes.SUBSCRIPTION_EXISTS, `consumer "${spec.id}" is already running`);
    }
    if (!consumer) {
      consumer = new SqliteConsumer(spec, this.consumerContext());
      this.#consumers.set(spec.id, consumer);
    }
    const now = this.#clock.now();
    const cursor = await commit.run(() => {
      const existing = queries.consumer(spec.id);
      if (!existing) return queries.createConsumer(spec.id, spec.types, now);
      if (existing.types !== JSON.stringify(spec.types))
        queries.updateConsumerTypes(spec.id, spec.types, now);
      return existing.cursor;
    });
    if (consumer.active) {
      throw new RetryableError(ErrorCodes.SUBSCRIPTION_EXISTS, `consumer "${spec.id}" is already running`);
    }
    consumer.start(spec, handler, cursor);
    return consumer;
  }

  async get(id: string): Promise<SwitchyardEvent | undefined> {
    const { queries } = this.opened();
    const row = queries.eventById(id);
    return row ? queries.parseEvent(row.body) : undefined;
  }

  async query(filter: EventQuery): Promise<SwitchyardEvent[]> {
    return this.opened().queries.query(filter);
  }

  async trace(id: string): Promise<SwitchyardEvent[] | undefined> {
    const { queries } = this.opened();
    const row = queries.eventById(id);
    if (!row) return undefined;
    const event = queries.parseEvent(row.body);
    return selectTrace(queries.correlationChain(event.correlationid), id);
  }

  async deliveries(eventId: string): Promise<DeliveryRecord[]> {
    const { queries } = this.opened();
    const row = queries.eventById(eventId);
    if (!row) return [];
    const event = queries.parseEvent(row.body);
    const records: DeliveryRecord[] = [];
    const seen = new Set<string>();
    for (const o of queries.outcomesOf(row.seq)) {
      seen.add(o.subscription);
      const running = this.#consumers.get(o.subscription)?.inFlight(row.seq);
      const record: DeliveryRecord = {
        eventId,
        subscription: o.subscription,
        status: running !== undefined ? 'in_flight' : o.status,
        attempts: running ?? o.attempts,
        updatedAt: new Date(o.updated_at).toISOString(),
      };
      if (o.next_attempt_at !== null && running === undefined) record.nextAttemptAt = iso(o.next_attempt_at);
      if (o.last_error !== null) record.lastError = JSON.parse(o.last_error) as ErrorInfo;
      if (o.result !== null) record.result = JSON.parse(o.result);
      records.push(record);
    }
    // Deliveries not attempted yet have no row: they sit between a consumer's cursor and the tail.
    for (const c of queries.consumers()) {
      if (seen.has(c.id) || row.seq <= c.cursor) continue;
      if (!matchesTypes(JSON.parse(c.types) as string[], event.type)) continue;
      const running = this.#consumers.get(c.id)?.inFlight(row.seq);
      records.push({
        eventId,
        subscription: c.id,
        status: running !== undefined ? 'in_flight' : 'pending',
        attempts: running ?? 0,
        updatedAt: iso(this.#clock.now()),
      });
    }
    return records;
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.opened().queries.deadLetters(filter);
  }

  async replayDeadLetters(filter: DeadLetterFilter): Promise<number> {
    const { queries, commit } = this.opened();
    const now = this.#clock.now();
    const replayed = await commit.run(() => {
      const matched = queries.deadLetterKeys(filter);
      for (const dl of matched) {
        queries.deleteDeadLetter(dl.id);
        queries.putOutcome(dl.subscription, dl.event_seq, 'pending', 0, now, null, null, now);
      }
      return matched;
    });
    for (const sub of new Set(replayed.map((d) => d.subscription))) this.#consumers.get(sub)?.wake();
    return replayed.length;
  }

  async dropDeadLetters(filter: DeadLetterFilter): Promise<number> {
    const { queries, commit } = this.opened();
    return commit.run(() => {
      const matched = queries.deadLetterKeys(filter);
      for (const dl of matched) queries.deleteDeadLetter(dl.id);
      return matched.length;
    });
  }

  readonly idempotency: IdempotencyStore = {
    get: async (key: string): Promise<IdempotencyRecord | undefined> => {
      const row = this.opened().queries.idempotency(key);
      if (!row) return undefined;
      return { key, result: decode(row.result), at: iso(row.at) };
    },
    put: async (key: string, result: unknown): Promise<void> => {
      const { queries, commit } = this.opened();
      const encoded = encode(result, `idempotency record "${key}"`);
      const now = this.#clock.now();
      // Like a delivery's outcome: committed (a crash of the process keeps it) before put
      // resolves, on disk with the next sync. The host awaits it before the action returns, so
      // the delivery's slot — and every delivery behind it at concurrency 1 — waits for it: commit
      // at once rather than at the end of this turn, and never wait for an fsync.
      await commit.run(() => queries.putIdempotency(key, encoded, now), { durable: false, now: true });
    },
  };

  kv(namespace: string): KeyValueStore {
    const transport = this;
    return {
      async get<T>(key: string): Promise<KvEntry<T> | undefined> {
        const row = transport.opened().queries.kvGet(namespace, key);
        return row ? { value: decode(row.value) as T, revision: row.revision } : undefined;
      },
      async set<T>(key: string, value: T): Promise<number> {
        const { queries, commit } = transport.opened();
        const encoded = encodeKv(value, namespace, key);
        return commit.run(() => queries.kvPut(namespace, key, encoded));
      },
      async compareAndSet<T>(key: string, value: T, expectedRevision: number): Promise<number | undefined> {
        const { queries, commit } = transport.opened();
        const encoded = encodeKv(value, namespace, key);
        return commit.run(() => {
          const current = queries.kvGet(namespace, key)?.revision ?? 0;
          return current === expectedRevision ? queries.kvPut(namespace, key, encoded) : undefined;
        });
      },
      async delete(key: string): Promise<void> {
        const { queries, commit } = transport.opened();
        await commit.run(() => queries.kvDelete(namespace, key));
      },
      async keys(prefix = ''): Promise<string[]> {
        return transport.opened().queries.kvKeys(namespace, prefix);
      },
    };
  }

  async health(): Promise<TransportHealth> {
    if (this.#closed) return { ok: false, detail: 'closed' };
    if (!this.#open) return { ok: false, detail: 'not open' };
    const error = this.#writeError ?? this.#syncError;
    if (error) return { ok: false, detail: error.message };
    try {
      this.#open.db.prepare('SELECT 1').get();
      return { ok: true, detail: this.path };
    } catch (error) {
      return { ok: false, detail: storageError(error, this.path, 'reading').message };
    }
  }

  /** Deletes old events now (retention also runs on its timer); returns what went. */
  async prune(): Promise<{ events: number; idempotency: number }> {
    return this.opened().retention.prune();
  }

  /**
   * Forgets a subscription that no longer exists (a rule removed from the config), so its position
   * stops holding back retention. Its dead letters stay until dropped.
   */
  async removeConsumer(id: string): Promise<void> {
    const { queries, commit } = this.opened();
    const consumer = this.#consumers.get(id);
    if (consumer?.active) {
      throw new RetryableError(ErrorCodes.SUBSCRIPTION_EXISTS, `consumer "${id}" is running; stop it first`);
    }
    this.#consumers.delete(id);
    await commit.run(() => queries.deleteConsumer(id));
  }

  /** An online, consistent copy of the database (safe while the daemon runs). */
  async backup(destination: string): Promise<void> {
    const { db } = this.opened();
    try {
      await db.backup(resolve(destination));
    } catch (error) {
      throw storageError(error, resolve(destination), 'backing up to');
    }
  }

  /** Transactions committed since open (for benchmarks and tests of batching). */
  get commits(): number {
    return this.#open?.commit.commits ?? 0;
  }

  /** WAL syncs since open (synchronous: full); each covers every commit made before it started. */
  get syncs(): number {
    return this.#open?.commit.syncs ?? 0;
  }

  /** WAL checkpoints since open (pages copied into the database file, which is then synced). */
  get checkpoints(): number {
    return this.#open?.commit.checkpoints ?? 0;
  }

  async close(options: { deadlineMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const open = this.#open;
    if (!open) return;
    await Promise.all([...this.#consumers.values()].map((c) => c.stop(options)));
    await open.retention.stop();
    await open.commit.idle();
    await open.commit.close();
    open.files.close();
    this.#open = undefined;
    try {
      open.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (error) {
      this.#logger?.warn(
        { err: (error as Error).message, path: this.path },
        'WAL checkpoint at close failed',
      );
    }
    open.db.close();
    this.#lock.remove();
  }

  private consumerContext(): ConsumerContext {
    const open = this.#open!;
    return {
      queries: open.queries,
      commit: open.commit,
      clock: this.#clock,
      logger: this.#logger,
      tailSeq: () => this.#tail,
    };
  }

  private opened(): Open {
    if (this.#open) return this.#open;
    if (this.#closed) throw this.closedError();
    throw sqliteError(
      SqliteErrorCodes.NOT_OPEN,
      `the SQLite transport on ${this.path} is not open; call open() first`,
    );
  }

  private closedError(): RetryableError {
    return new RetryableError(ErrorCodes.TRANSPORT_CLOSED, `the SQLite transport on ${this.path} is closed`);
  }
}

/**
 * Creates missing directories one level at a time: Node 22's recursive mkdirSync loops forever on
 * a parent that refuses creation with ENOENT (e.g. under /proc).
 */
function ensureDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** undefined is stored as SQL NULL so "no result" survives a round trip. */
function encode(value: unknown, what: string): string | null {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw sqliteError(
      SqliteErrorCodes.VALUE_UNSERIALIZABLE,
      `${what} cannot be stored as JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (text === undefined) {
    throw sqliteError(
      SqliteErrorCodes.VALUE_UNSERIALIZABLE,
      `${what} cannot be stored as JSON (a ${typeof value})`,
    );
  }
  return text;
}

function encodeKv(value: unknown, namespace: string, key: string): string {
  const text = encode(value, `kv value "${namespace}/${key}"`);
  if (text === null) {
    throw sqliteError(
      SqliteErrorCodes.VALUE_UNSERIALIZABLE,
      `kv value "${namespace}/${key}" is undefined; delete the key instead`,
    );
  }
  return text;
}

function decode(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text);
}
