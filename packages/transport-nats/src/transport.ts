import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
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
  type EventQuery,
  type IdempotencyStore,
  type KeyValueStore,
  type Logger,
  RetryableError,
  type SwitchyardEvent,
  systemClock,
  type Transport,
  type TransportHealth,
} from '@switchyard/core';
import { Connection, type NatsCredentials } from './connection.js';
import { NatsConsumer } from './consumer.js';
import { DeadLetterStore } from './dlq.js';
import { NatsErrorCodes, natsPermanent, natsRetryable, redact } from './errors.js';
import { DeliveryRecords, NatsIdempotencyStore, NatsKeyValueStore } from './kv.js';
import { Names } from './names.js';
import { EventReader } from './queries.js';
import { ensureDurable, ensureStreams } from './streams.js';

export interface NatsTransportOptions {
  /** NATS URLs, e.g. ["nats://n1:4222", "nats://n2:4222", "nats://n3:4222"]. */
  servers: string | readonly string[];
  /** Events stream name (default SWITCHYARD_EVENTS); every other stream/bucket name derives from it. */
  stream?: string;
  /** Subject prefix (default "switchyard" for the default stream, else the stream name). */
  subjectPrefix?: string;
  credentials?: NatsCredentials;
  /** Connection name shown by the server (e.g. the runner's host name). */
  name?: string;
  logger?: Logger;
  clock?: Clock;
  /** Stream and bucket replicas when they are created (3 on a 3-node cluster). Default 1. */
  replicas?: number;
  /** Ack wait of subscription consumers; a running handler extends it every ackWait/3. Default 30 s. */
  ackWaitMs?: number;
  /** JetStream duplicate window for delivery keys and event ids. Default 2 min. */
  duplicateWindowMs?: number;
  /** Age after which events, delivery records and idempotency records are removed. Default 0 (keep). */
  maxAgeMs?: number;
  /** Unacknowledged messages per subscription across all runners. Default 10,000. */
  maxAckPending?: number;
}

interface Opened {
  connection: Connection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  reader: EventReader;
  records: DeliveryRecords;
  deadLetters: DeadLetterStore;
  kvBucket: KV;
  idempotency: NatsIdempotencyStore;
  multiFilter: boolean;
}

/**
 * Switchyard transport on NATS JetStream: several runner processes share every subscription
 * (one durable pull consumer each) and survive the loss of one. See the package README for the
 * subjects, streams, consumers and buckets it uses.
 */
export class NatsTransport implements Transport {
  readonly kind = 'nats';
  readonly names: Names;
  readonly #options: NatsTransportOptions;
  readonly #clock: Clock;
  readonly #consumers = new Map<string, NatsConsumer>();
  #opened: Opened | undefined;
  #closed = false;

  constructor(options: NatsTransportOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.names = new Names(options.stream, options.subjectPrefix);
  }

  readonly idempotency: IdempotencyStore = {
    get: (key) => this.#open().idempotency.get(key),
    put: (key, result) => this.#open().idempotency.put(key, result),
  };

  async open(): Promise<void> {
    if (this.#opened) return;
    const o = this.#options;
    const connection = await Connection.open({
      servers: o.servers,
      ...(o.credentials ? { credentials: o.credentials } : {}),
      ...(o.name ? { name: o.name } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
    });
    try {
      let jsm: JetStreamManager;
      try {
        jsm = await jetstreamManager(connection.nc);
      } catch (error) {
        throw natsPermanent(
          NatsErrorCodes.JETSTREAM_UNAVAILABLE,
          'JetStream is not enabled on this NATS server or account (start nats-server with -js, or enable JetStream for the account)',
          error,
        );
      }
      const js = jetstream(connection.nc);
      const replicas = o.replicas ?? 1;
      const maxAgeMs = o.maxAgeMs ?? 0;
      await ensureStreams(jsm, this.names, {
        replicas,
        duplicateWindowMs: o.duplicateWindowMs ?? 120_000,
        maxAgeMs,
      });
      const kvm = new Kvm(js);
      const bucket = async (name: string, ttl: number) => {
        try {
          return await kvm.create(name, { history: 1, replicas, ttl, allow_direct: true });
        } catch (error) {
          throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot create or open KV bucket ${name}`, error);
        }
      };
      const [deliveries, idempotencyBucket, kvBucket] = await Promise.all([
        bucket(this.names.deliveriesBucket, maxAgeMs),
        bucket(this.names.idempotencyBucket, maxAgeMs),
        bucket(this.names.kvBucket, 0),
      ]);
      const records = new DeliveryRecords(deliveries, connection.nc, this.names.deliveriesBucket, { jsm });
      const now = () => this.#clock.now();
      this.#opened = {
        connection,
        js,
        jsm,
        reader: new EventReader(js, jsm, this.names),
        records,
        deadLetters: new DeadLetterStore(js, jsm, this.names, records, now),
        kvBucket,
        idempotency: new NatsIdempotencyStore(idempotencyBucket, now),
        multiFilter: atLeast(connection.nc.info?.version ?? '0.0.0', [2, 10, 0]),
      };
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  async append(event: SwitchyardEvent, options: AppendOptions = {}): Promise<AppendResult> {
    const { js, reader } = this.#open();
    const msgID = options.deliveryKey ?? `id:${event.id}`;
    let ack: Awaited<ReturnType<JetStreamClient['publish']>>;
    try {
      // One write per event: its subject carries type, correlation and id, which is all that get,
      // trace and the subscriptions' filters need (no index entries to keep in step).
      ack = await js.publish(this.names.eventSubject(event), JSON.stringify(event), { msgID });
    } catch (error) {
      throw natsRetryable(
        NatsErrorCodes.PUBLISH_FAILED,
        `event ${event.id} (${event.type}) was not stored in stream ${this.names.stream}`,
        error,
      );
    }
    if (ack.duplicate) return { event: (await reader.bySeq(ack.seq)) ?? event, duplicate: true };
    return { event, duplicate: false };
  }

  async consume(spec: ConsumerSpec, handler: DeliveryHandler): Promise<Consumer> {
    const opened = this.#open();
    if (this.#consumers.has(spec.id)) {
      throw new RetryableError(ErrorCodes.SUBSCRIPTION_EXISTS, `consumer "${spec.id}" is already running`);
    }
    const ackWaitMs = this.#options.ackWaitMs ?? 30_000;
    const binding = await ensureDurable(opened.jsm, this.names, spec, {
      ackWaitMs,
      maxAckPending: this.#options.maxAckPending ?? 10_000,
      multiFilter: opened.multiFilter,
    });
    let jsConsumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>;
    try {
      jsConsumer = await opened.js.consumers.get(this.names.stream, binding.name);
    } catch (error) {
      throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot bind consumer ${binding.name}`, error);
    }
    const consumer = new NatsConsumer(
      {
        connection: opened.connection,
        names: this.names,
        records: opened.records,
        deadLetters: opened.deadLetters,
        clock: this.#clock,
        logger: this.#options.logger,
        ackWaitMs,
      },
      spec,
      handler,
      jsConsumer,
      binding.clientTypes,
      () => {
        if (this.#consumers.get(spec.id) === consumer) this.#consumers.delete(spec.id);
      },
    );
    this.#consumers.set(spec.id, consumer);
    consumer.start();
    return consumer;
  }

  get(id: string): Promise<SwitchyardEvent | undefined> {
    return this.#open().reader.get(id);
  }

  query(filter: EventQuery): Promise<SwitchyardEvent[]> {
    return this.#open().reader.query(filter);
  }

  trace(id: string): Promise<SwitchyardEvent[] | undefined> {
    return this.#open().reader.trace(id);
  }

  deliveries(eventId: string): Promise<DeliveryRecord[]> {
    return this.#open().records.list(eventId);
  }

  deadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]> {
    return this.#open().deadLetters.list(filter);
  }

  replayDeadLetters(filter: DeadLetterFilter): Promise<number> {
    return this.#open().deadLetters.replay(filter);
  }

  dropDeadLetters(filter: DeadLetterFilter): Promise<number> {
    return this.#open().deadLetters.drop(filter);
  }

  kv(namespace: string): KeyValueStore {
    return new NatsKeyValueStore(
      () => this.#open().kvBucket,
      namespace,
      () => {
        return { jsm: this.#open().jsm, name: this.names.kvBucket };
      },
    );
  }

  async health(): Promise<TransportHealth> {
    if (this.#closed) return { ok: false, detail: 'closed' };
    if (!this.#opened) return { ok: false, detail: 'not opened' };
    const status = this.#opened.connection.status();
    if (!status.ok) return status;
    try {
      const rtt = await withTimeout(this.#opened.connection.nc.rtt(), 2_000);
      // The stream answers only while it has a leader (quorum on a cluster).
      await withTimeout(this.#opened.jsm.streams.info(this.names.stream), 2_000);
      return { ok: true, detail: `${status.detail}, rtt ${rtt.toFixed(1)} ms` };
    } catch (error) {
      return {
        ok: false,
        detail: `NATS server or stream ${this.names.stream} did not answer within 2 s (${redact((error as Error).message)})`,
      };
    }
  }

  async close(options: { deadlineMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers.values()].map((c) => c.stop(options)));
    this.#consumers.clear();
    await this.#opened?.connection.close();
  }

  #open(): Opened {
    if (this.#closed) throw new RetryableError(ErrorCodes.TRANSPORT_CLOSED, 'the NATS transport is closed');
    if (!this.#opened) {
      throw natsPermanent(NatsErrorCodes.NOT_OPEN, 'the NATS transport is not open: call open() first');
    }
    return this.#opened;
  }
}

function atLeast(version: string, want: [number, number, number]): boolean {
  const parts = version.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const a = parts[i] ?? 0;
    if (a !== want[i]) return a > want[i]!;
  }
  return true;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
