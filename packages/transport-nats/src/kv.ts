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
import { isWrongLastSequence } from './streams.js';

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
    const out: string[] = [];
    await guard('kv keys', async () => {
      for await (const k of await this.bucket.keys(`${this.#ns}.*`)) {
        const key = decodeToken(k.slice(this.#ns.length + 1));
        if (key.startsWith(prefix)) out.push(key);
      }
    });
    return out.sort();
  }
}

/** Delivery records, one KV entry per `<eventId>.<subscription>`. */
export class DeliveryRecords {
  constructor(
    private readonly bucket: KV,
    private readonly nc: NatsConnection,
    private readonly bucketName: string,
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
      const keys: string[] = [];
      for await (const k of await this.bucket.keys(`${prefix}.*`)) keys.push(k);
      const entries = await Promise.all(keys.map((k) => this.bucket.get(k)));
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

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw natsRetryable(NatsErrorCodes.STORE_FAILED, `${what} failed`, error);
  }
}
