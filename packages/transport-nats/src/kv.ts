import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type {
  DeliveryRecord,
  IdempotencyRecord,
  IdempotencyStore,
  KeyValueStore,
  KvEntry,
} from '@switchyard/core';
import { NatsErrorCodes, natsRetryable } from './errors.js';
import { decodeToken, encodeToken } from './names.js';
import { isWrongLastSequence, kvSubjects } from './streams.js';

/**
 * `kv(namespace)` on a JetStream KV bucket shared by every runner. Keys are `<namespace>.<key>`
 * (both token-encoded); the revision is the bucket's stream sequence, so compare-and-set is the
 * server's "expected last subject sequence" check and holds across runners.
 */
export class NatsKeyValueStore implements KeyValueStore {
  readonly #ns: string;
  /** `bucket` is looked up on each call, so a store handed out before open() works after it. */
  constructor(
    private readonly resolve: () => KV,
    namespace: string,
    private readonly lister: () => KeyLister,
  ) {
    this.#ns = encodeToken(namespace);
  }

  private get bucket(): KV {
    return this.resolve();
  }

  #key(key: string): string {
    return `${this.#ns}.${encodeToken(key)}`;
  }

  async get<T>(key: string): Promise<KvEntry<T> | undefined> {
    const entry = await guard(`kv get ${key}`, () => this.bucket.get(this.#key(key)));
    if (entry?.operation !== 'PUT') return undefined;
    return { value: entry.json<T>(), revision: entry.revision };
  }

  async set<T>(key: string, value: T): Promise<number> {
    return guard(`kv set ${key}`, () => this.bucket.put(this.#key(key), JSON.stringify(value)));
  }

  async compareAndSet<T>(key: string, value: T, expectedRevision: number): Promise<number | undefined> {
    const k = this.#key(key);
    const data = JSON.stringify(value);
    try {
      return expectedRevision === 0
        ? await this.bucket.create(k, data)
        : await this.bucket.update(k, data, expectedRevision);
    } catch (error) {
      // Someone else wrote first: not an error, the caller re-reads and tries again.
      if (isWrongLastSequence(error)) return undefined;
      throw natsRetryable(NatsErrorCodes.STORE_FAILED, `kv compareAndSet ${key}`, error);
    }
  }

  async delete(key: string): Promise<void> {
    await guard(`kv delete ${key}`, () => this.bucket.delete(this.#key(key)));
  }

  async keys(prefix = ''): Promise<string[]> {
    const { jsm, name } = this.lister();
    return guard('kv keys', async () => {
      const candidates = (await kvSubjects(jsm, name, `${this.#ns}.*`)).filter((k) =>
        decodeToken(k.slice(this.#ns.length + 1)).startsWith(prefix),
      );
      // Deleted keys keep a marker under their subject: only current values count.
      const present = await mapChunked(
        candidates,
        async (k) => (await this.bucket.get(k))?.operation === 'PUT',
      );
      return candidates
        .filter((_, i) => present[i])
        .map((k) => decodeToken(k.slice(this.#ns.length + 1)))
        .sort();
    });
  }
}

/** What listing a bucket's keys needs (see kvSubjects). */
export interface KeyLister {
  jsm: JetStreamManager;
  /** The bucket's name. */
  name: string;
}

/** Delivery records, one KV entry per `<eventId>.<subscription>`. */
export class DeliveryRecords {
  constructor(
    private readonly bucket: KV,
    private readonly nc: NatsConnection,
    private readonly bucketName: string,
    private readonly lister: Omit<KeyLister, 'name'>,
  ) {}

  /** Writes a record and waits for the bucket's ack. */
  async put(record: DeliveryRecord): Promise<void> {
    await guard(`delivery record ${record.eventId}/${record.subscription}`, () =>
      this.bucket.put(recordKey(record), recordBody(record)),
    );
  }

  /**
   * Sends a record to the bucket's subject without waiting for its ack (a KV put the server stores
   * like any other). For success records, sent just before the message's ack on the same
   * connection: the record travels with the ack and has the ack's own guarantee, for a fraction of
   * a request's cost on client and server.
   */
  send(record: DeliveryRecord): void {
    this.nc.publish(`$KV.${this.bucketName}.${recordKey(record)}`, recordBody(record));
  }

  async list(eventId: string): Promise<DeliveryRecord[]> {
    const prefix = encodeToken(eventId);
    return guard(`delivery records of ${eventId}`, async () => {
      const keys = await kvSubjects(this.lister.jsm, this.bucketName, `${prefix}.*`);
      const entries = await mapChunked(keys, (k) => this.bucket.get(k));
      return entries
        .filter((e) => e !== null && e.operation === 'PUT')
        .map((e) => e!.json<DeliveryRecord>())
        .sort((a, b) => (a.subscription < b.subscription ? -1 : 1));
    });
  }
}

/** Results of side effects that succeeded, one KV entry per idempotency key. */
export class NatsIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly bucket: KV,
    private readonly now: () => number,
  ) {}

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const entry = await guard(`idempotency get ${key}`, () => this.bucket.get(encodeToken(key)));
    if (entry?.operation !== 'PUT') return undefined;
    return entry.json<IdempotencyRecord>();
  }

  async put(key: string, result: unknown): Promise<void> {
    const record: IdempotencyRecord = { key, result, at: new Date(this.now()).toISOString() };
    await guard(`idempotency put ${key}`, () => this.bucket.put(encodeToken(key), JSON.stringify(record)));
  }
}

function recordKey(record: DeliveryRecord): string {
  return `${encodeToken(record.eventId)}.${encodeToken(record.subscription)}`;
}

function recordBody(record: DeliveryRecord): string {
  try {
    return JSON.stringify(record);
  } catch {
    return JSON.stringify({ ...record, result: '[result not serialisable as JSON]' });
  }
}

/** `fn` over `items`, 256 requests in flight at most (a listing can name thousands of keys). */
async function mapChunked<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 256)
    out.push(...(await Promise.all(items.slice(i, i + 256).map(fn))));
  return out;
}

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw natsRetryable(NatsErrorCodes.STORE_FAILED, `${what} failed`, error);
  }
}
