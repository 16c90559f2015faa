import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { retryDelay } from './backoff.js';
import { type Clock, systemClock } from './clock.js';
import { ErrorCodes, RetryableError } from './errors.js';
import type { SwitchyardEvent } from './events/envelope.js';
import {
  type AppendOptions,
  type AppendResult,
  type Consumer,
  type ConsumerSpec,
  compareEvents,
  type DeadLetter,
  type DeadLetterFilter,
  type DeliveryHandler,
  type DeliveryRecord,
  type EventQuery,
  type IdempotencyRecord,
  type IdempotencyStore,
  type KeyValueStore,
  type KvEntry,
  matchesTypes,
  selectTrace,
  type Transport,
  type TransportHealth,
} from './transport.js';

interface Pending {
  event: SwitchyardEvent;
  attempt: number;
}

/** Delivery state kept as numbers and mutated in place; turned into DeliveryRecord only when read. */
interface Tracked {
  eventId: string;
  subscription: string;
  status: DeliveryRecord['status'];
  attempts: number;
  updatedAt: number;
  nextAttemptAt?: number;
  lastError?: DeliveryRecord['lastError'];
  result?: unknown;
}

function toRecord(t: Tracked): DeliveryRecord {
  const r: DeliveryRecord = {
    eventId: t.eventId,
    subscription: t.subscription,
    status: t.status,
    attempts: t.attempts,
    updatedAt: new Date(t.updatedAt).toISOString(),
  };
  if (t.nextAttemptAt !== undefined) r.nextAttemptAt = new Date(t.nextAttemptAt).toISOString();
  if (t.lastError !== undefined) r.lastError = t.lastError;
  if (t.result !== undefined) r.result = t.result;
  return r;
}

/**
 * Everything in process memory: for tests and for trying Switchyard out. Same delivery semantics
 * as the durable transports (per-consumer order, retries with backoff, dead letters, dedupe,
 * durable consumers that keep their backlog while stopped), but nothing survives the process.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly #clock: Clock;
  readonly #emitter = new EventEmitter<{ append: [SwitchyardEvent] }>();
  #events: SwitchyardEvent[] = [];
  readonly #maxEvents: number;
  readonly #keyOf = new Map<string, string>();
  readonly #byId = new Map<string, SwitchyardEvent>();
  readonly #byCorrelation = new Map<string, SwitchyardEvent[]>();
  readonly #deliveryKeys = new Map<string, string>();
  readonly #consumers = new Map<string, MemoryConsumer>();
  readonly #dead = new Map<string, DeadLetter>();
  readonly #deliveries = new Map<string, Tracked[]>();
  readonly #kv = new Map<string, MemoryKv>();
  readonly #idempotency = new Map<string, IdempotencyRecord>();
  #closed = false;

  /**
   * @param options.maxEvents events kept for queries, dedupe and trace (default 100,000); older ones
   *   are dropped with their delivery records, so a long-running memory store does not grow without
   *   bound. Pending deliveries and dead letters keep their own reference to the event.
   */
  constructor(options: { clock?: Clock; maxEvents?: number } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#maxEvents = options.maxEvents ?? 100_000;
  }

  readonly idempotency: IdempotencyStore = {
    get: async (key) => this.#idempotency.get(key),
    put: async (key, result) => {
      this.#idempotency.set(key, { key, result, at: new Date(this.#clock.now()).toISOString() });
    },
  };

  async open(): Promise<void> {}

  async append(event: SwitchyardEvent, options: AppendOptions = {}): Promise<AppendResult> {
    this.assertOpen();
    const existingId =
      options.deliveryKey === undefined ? undefined : this.#deliveryKeys.get(options.deliveryKey);
    const existing = this.#byId.get(existingId ?? event.id);
    if (existing) return { event: existing, duplicate: true };
    this.#events.push(event);
    this.#byId.set(event.id, event);
    const chain = this.#byCorrelation.get(event.correlationid);
    if (chain) chain.push(event);
    else this.#byCorrelation.set(event.correlationid, [event]);
    if (options.deliveryKey !== undefined) {
      this.#deliveryKeys.set(options.deliveryKey, event.id);
      this.#keyOf.set(event.id, options.deliveryKey);
    }
    // Trim in chunks of a quarter so the cost is amortised over many appends.
    if (this.#events.length > this.#maxEvents * 1.25) this.trim(this.#events.length - this.#maxEvents);
    this.#emitter.emit('append', event);
    return { event, duplicate: false };
  }

  async consume(spec: ConsumerSpec, handler: DeliveryHandler): Promise<Consumer> {
    this.assertOpen();
    let consumer = this.#consumers.get(spec.id);
    if (!consumer) {
      consumer = new MemoryConsumer(
        spec,
        this.#clock,
        (eventId, sub) => this.track(eventId, sub),
        (dl) => this.deadLetter(dl),
      );
      this.#consumers.set(spec.id, consumer);
      const c = consumer;
      this.#emitter.on('append', (event) => {
        if (matchesTypes(c.spec.types, event.type)) c.enqueue({ event, attempt: 1 });
      });
    } else if (consumer.running) {
      throw new RetryableError(ErrorCodes.SUBSCRIPTION_EXISTS, `consumer "${spec.id}" is already running`);
    }
    consumer.start(spec, handler);
    return consumer;
  }

  async get(id: string): Promise<SwitchyardEvent | undefined> {
    return this.#byId.get(id);
  }

  async query(filter: EventQuery): Promise<SwitchyardEvent[]> {
    const since = toTime(filter.since);
    const until = toTime(filter.until);
    const source = filter.correlationId
      ? (this.#byCorrelation.get(filter.correlationId) ?? [])
      : this.#events;
    let out = source.filter(
      (e) =>
        (filter.type === undefined || e.type === filter.type) &&
        (filter.subject === undefined || e.subject === filter.subject) &&
        (since === undefined || Date.parse(e.time) >= since) &&
        (until === undefined || Date.parse(e.time) <= until),
    );
    out = [...out].sort(compareEvents);
    if (filter.newestFirst) out.reverse();
    return out.slice(0, filter.limit ?? 100);
  }

  async trace(id: string): Promise<SwitchyardEvent[] | undefined> {
    const event = this.#byId.get(id);
    if (!event) return undefined;
    return selectTrace(this.#byCorrelation.get(event.correlationid) ?? [event], id);
  }

  async deliveries(eventId: string): Promise<DeliveryRecord[]> {
    return (this.#deliveries.get(eventId) ?? []).map(toRecord);
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.matchDead(filter);
  }

  async replayDeadLetters(filter: DeadLetterFilter): Promise<number> {
    const matched = this.matchDead(filter);
    for (const dl of matched) {
      this.#dead.delete(dl.id);
      const consumer = this.#consumers.get(dl.subscription);
      const t = this.track(dl.event.id, dl.subscription);
      t.status = 'pending';
      t.attempts = 0;
      t.updatedAt = this.#clock.now();
      consumer?.enqueue({ event: dl.event, attempt: 1 });
    }
    return matched.length;
  }

  async dropDeadLetters(filter: DeadLetterFilter): Promise<number> {
    const matched = this.matchDead(filter);
    for (const dl of matched) this.#dead.delete(dl.id);
    return matched.length;
  }

  kv(namespace: string): KeyValueStore {
    let store = this.#kv.get(namespace);
    if (!store) {
      store = new MemoryKv();
      this.#kv.set(namespace, store);
    }
    return store;
  }

  async health(): Promise<TransportHealth> {
    return this.#closed ? { ok: false, detail: 'closed' } : { ok: true };
  }

  async close(options: { deadlineMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#consumers.values()].map((c) => c.stop(options)));
    for (const c of this.#consumers.values()) c.dispose();
    this.#emitter.removeAllListeners();
    this.#closed = true;
  }

  private matchDead(filter: DeadLetterFilter): DeadLetter[] {
    const out: DeadLetter[] = [];
    for (const dl of this.#dead.values()) {
      if (filter.id !== undefined && dl.id !== filter.id) continue;
      if (filter.subscription !== undefined && dl.subscription !== filter.subscription) continue;
      if (filter.type !== undefined && dl.event.type !== filter.type) continue;
      out.push(dl);
      if (filter.limit !== undefined && out.length >= filter.limit) break;
    }
    return out;
  }

  private track(eventId: string, subscription: string): Tracked {
    let perEvent = this.#deliveries.get(eventId);
    if (!perEvent) {
      perEvent = [];
      this.#deliveries.set(eventId, perEvent);
    }
    let t = perEvent.find((d) => d.subscription === subscription);
    if (!t) {
      t = { eventId, subscription, status: 'pending', attempts: 0, updatedAt: 0 };
      perEvent.push(t);
    }
    return t;
  }

  private trim(count: number): void {
    const dropped = this.#events.slice(0, count);
    this.#events = this.#events.slice(count);
    for (const event of dropped) {
      this.#byId.delete(event.id);
      this.#deliveries.delete(event.id);
      const key = this.#keyOf.get(event.id);
      if (key !== undefined) {
        this.#deliveryKeys.delete(key);
        this.#keyOf.delete(event.id);
      }
      const chain = this.#byCorrelation.get(event.correlationid);
      if (chain) {
        const index = chain.indexOf(event);
        if (index >= 0) chain.splice(index, 1);
        if (chain.length === 0) this.#byCorrelation.delete(event.correlationid);
      }
    }
  }

  private deadLetter(dl: Omit<DeadLetter, 'id'>): void {
    const id = randomUUID();
    this.#dead.set(id, { id, ...dl });
  }

  private assertOpen(): void {
    if (this.#closed) throw new RetryableError(ErrorCodes.TRANSPORT_CLOSED, 'the memory transport is closed');
  }
}

class MemoryConsumer implements Consumer {
  spec: ConsumerSpec;
  running = false;
  readonly #queue: Pending[] = [];
  #head = 0;
  #inFlight = 0;
  #handler: DeliveryHandler | undefined;
  readonly #timers = new Set<() => void>();
  #idle: (() => void) | undefined;
  #generation = 0;

  constructor(
    spec: ConsumerSpec,
    private readonly clock: Clock,
    private readonly track: (eventId: string, subscription: string) => Tracked,
    private readonly deadLetter: (dl: Omit<DeadLetter, 'id'>) => void,
  ) {
    this.spec = spec;
  }

  get id(): string {
    return this.spec.id;
  }

  start(spec: ConsumerSpec, handler: DeliveryHandler): void {
    this.spec = spec;
    this.#handler = handler;
    this.running = true;
    this.pump();
  }

  enqueue(pending: Pending): void {
    this.#queue.push(pending);
    if (this.running) this.pump();
  }

  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.#inFlight > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      let cancel: (() => void) | undefined;
      const deadline = new Promise<void>((resolve) => {
        cancel = this.clock.setTimer(resolve, options.deadlineMs ?? 30_000);
      });
      await Promise.race([drained, deadline]);
      cancel?.();
      this.#idle = undefined;
    }
    // Deliveries still running past the deadline are released: their results are ignored and they
    // will run again when the consumer resumes (at-least-once).
    this.#generation++;
    this.#inFlight = 0;
  }

  dispose(): void {
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
  }

  private pump(): void {
    while (this.running && this.#inFlight < this.spec.concurrency && this.#head < this.#queue.length) {
      const next = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Pending;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      this.run(next);
    }
  }

  private run(pending: Pending): void {
    const { event, attempt } = pending;
    const generation = this.#generation;
    const handler = this.#handler!;
    this.#inFlight++;
    const tracked = this.track(event.id, this.spec.id);
    tracked.status = 'in_flight';
    tracked.attempts = attempt;
    tracked.updatedAt = this.clock.now();
    handler({ event, subscription: this.spec.id, attempt }).then((outcome) => {
      if (generation !== this.#generation) {
        this.#queue.splice(this.#head, 0, pending); // released at stop: run again on resume
        return;
      }
      this.#inFlight--;
      const now = this.clock.now();
      tracked.updatedAt = now;
      tracked.nextAttemptAt = undefined;
      if (outcome.ok) {
        tracked.status = 'succeeded';
        if (outcome.result !== undefined) tracked.result = outcome.result;
      } else if (!outcome.error.retryable || attempt >= this.spec.maxAttempts) {
        tracked.status = 'dead';
        tracked.lastError = outcome.error;
        this.deadLetter({
          subscription: this.spec.id,
          event,
          attempts: attempt,
          lastError: outcome.error,
          deadAt: new Date(now).toISOString(),
        });
      } else {
        const delay = retryDelay(attempt, this.spec.backoff, outcome.error.retryAfterMs);
        tracked.status = 'retrying';
        tracked.lastError = outcome.error;
        tracked.nextAttemptAt = now + delay;
        const cancel = this.clock.setTimer(() => {
          this.#timers.delete(cancel);
          this.enqueue({ event, attempt: attempt + 1 });
        }, delay);
        this.#timers.add(cancel);
      }
      if (this.#inFlight === 0) this.#idle?.();
      this.pump();
    });
  }
}

class MemoryKv implements KeyValueStore {
  readonly #entries = new Map<string, KvEntry>();
  #revision = 0;

  async get<T>(key: string): Promise<KvEntry<T> | undefined> {
    return this.#entries.get(key) as KvEntry<T> | undefined;
  }
  async set<T>(key: string, value: T): Promise<number> {
    const revision = ++this.#revision;
    this.#entries.set(key, { value: structuredClone(value), revision });
    return revision;
  }
  async compareAndSet<T>(key: string, value: T, expectedRevision: number): Promise<number | undefined> {
    const current = this.#entries.get(key)?.revision ?? 0;
    if (current !== expectedRevision) return undefined;
    return this.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }
  async keys(prefix = ''): Promise<string[]> {
    return [...this.#entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

function toTime(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : Date.parse(value);
}
