import type { BackoffPolicy } from './backoff.js';
import type { ErrorInfo } from './errors.js';
import type { SwitchyardEvent } from './events/envelope.js';

/**
 * A transport stores events durably and delivers them to named, durable subscriptions.
 * Implementations: MemoryTransport (core, tests), SqliteTransport (@switchyard/store-sqlite),
 * NatsTransport (@switchyard/transport-nats). Every one runs the conformance suite from
 * @switchyard/testing unchanged.
 *
 * Division of work: the bus validates events and wraps handlers (timeout, abort, error
 * normalisation, causality). The transport owns storage and scheduling: which delivery runs when,
 * attempts, backoff (with `retryDelay` from core), dead letters, dedupe, idempotency records.
 */
export interface Transport {
  /** "memory", "sqlite", "nats"… */
  readonly kind: string;

  /** Opens connections/files. Called once before any other method. */
  open(): Promise<void>;

  /**
   * Appends an event durably. Resolves only once the event survives a crash of this process.
   * An event whose id, or whose delivery key, was already stored is not stored again:
   * `duplicate: true` and the first event are returned.
   */
  append(event: SwitchyardEvent, options?: AppendOptions): Promise<AppendResult>;

  /**
   * Starts (or resumes) the durable consumer `spec.id`. A new consumer receives events appended
   * after it was first created; a resumed one continues where it stopped, including deliveries
   * that were in flight when the process died (at-least-once).
   */
  consume(spec: ConsumerSpec, handler: DeliveryHandler): Promise<Consumer>;

  get(id: string): Promise<SwitchyardEvent | undefined>;
  query(filter: EventQuery): Promise<SwitchyardEvent[]>;
  /** Ancestors of the event up to the root and all its descendants, oldest first. */
  trace(id: string): Promise<SwitchyardEvent[] | undefined>;
  /** Delivery state of one event for every subscription that received it. */
  deliveries(eventId: string): Promise<DeliveryRecord[]>;

  deadLetters(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /** Puts dead letters back on their subscription with a fresh attempt count; returns how many. */
  replayDeadLetters(filter: DeadLetterFilter): Promise<number>;
  /** Deletes dead letters for good; returns how many. */
  dropDeadLetters(filter: DeadLetterFilter): Promise<number>;

  /** Results of side effects that succeeded, so a redelivery does not repeat them. */
  readonly idempotency: IdempotencyStore;

  /** A small key-value store, one namespace per plugin (rate limiter state, thread ids…). */
  kv(namespace: string): KeyValueStore;

  /** Reachability for /readyz. */
  health(): Promise<TransportHealth>;

  /** Stops consumers (waiting up to `deadlineMs` for in-flight deliveries) and closes the store. */
  close(options?: { deadlineMs?: number }): Promise<void>;
}

export interface AppendOptions {
  /** The sender's delivery id (X-Atlassian-Webhook-Identifier, Nats-Msg-Id…) for ingest dedupe. */
  deliveryKey?: string;
}

export interface AppendResult {
  event: SwitchyardEvent;
  duplicate: boolean;
}

export interface ConsumerSpec {
  id: string;
  /** Event types this consumer receives; ['*'] for all. */
  types: readonly string[];
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Handler time budget; transports with server-side redelivery (NATS) extend their ack wait. */
  timeoutMs: number;
  /** Deliveries of this consumer running at once in this process. */
  concurrency: number;
}

export interface Delivery {
  event: SwitchyardEvent;
  subscription: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** What the bus's wrapped handler reports; it never throws. */
export type DeliveryOutcome = { ok: true; result?: unknown } | { ok: false; error: ErrorInfo };

export type DeliveryHandler = (delivery: Delivery) => Promise<DeliveryOutcome>;

export interface Consumer {
  readonly id: string;
  /** Stops taking deliveries; waits for in-flight ones until the deadline, then releases them. */
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

export interface EventQuery {
  type?: string;
  subject?: string;
  correlationId?: string;
  /** ISO time or epoch ms, inclusive. */
  since?: string | number;
  until?: string | number;
  /** Newest first when true (default false: oldest first). */
  newestFirst?: boolean;
  limit?: number;
}

export type DeliveryStatus = 'pending' | 'in_flight' | 'retrying' | 'succeeded' | 'dead';

export interface DeliveryRecord {
  eventId: string;
  subscription: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt?: string;
  lastError?: ErrorInfo;
  result?: unknown;
  updatedAt: string;
}

export interface DeadLetter {
  /** Stable id for replay/drop (URL-safe). */
  id: string;
  subscription: string;
  event: SwitchyardEvent;
  attempts: number;
  lastError: ErrorInfo;
  deadAt: string;
}

export interface DeadLetterFilter {
  id?: string;
  subscription?: string;
  type?: string;
  limit?: number;
}

export interface IdempotencyStore {
  get(key: string): Promise<IdempotencyRecord | undefined>;
  put(key: string, result: unknown): Promise<void>;
}

export interface IdempotencyRecord {
  key: string;
  result: unknown;
  at: string;
}

export interface KvEntry<T = unknown> {
  value: T;
  /** Increases on every write; used for compare-and-set. */
  revision: number;
}

export interface KeyValueStore {
  get<T = unknown>(key: string): Promise<KvEntry<T> | undefined>;
  set<T = unknown>(key: string, value: T): Promise<number>;
  /**
   * Writes only if the key is still at `expectedRevision` (0 = must not exist). Returns the new
   * revision, or undefined when someone else wrote first. Rate limiters shared by several runners
   * rely on this.
   */
  compareAndSet<T = unknown>(key: string, value: T, expectedRevision: number): Promise<number | undefined>;
  delete(key: string): Promise<void>;
  keys(prefix?: string): Promise<string[]>;
}

export interface TransportHealth {
  ok: boolean;
  detail?: string;
}

/** Ancestors + descendants of `id` among the events of one correlation chain. */
export function selectTrace(chain: readonly SwitchyardEvent[], id: string): SwitchyardEvent[] | undefined {
  const byId = new Map(chain.map((e) => [e.id, e]));
  const start = byId.get(id);
  if (!start) return undefined;
  const keep = new Set<string>([id]);
  let cursor: SwitchyardEvent | undefined = start;
  while (cursor?.causationid && !keep.has(cursor.causationid)) {
    keep.add(cursor.causationid);
    cursor = byId.get(cursor.causationid);
  }
  const children = new Map<string, SwitchyardEvent[]>();
  for (const e of chain) {
    if (!e.causationid) continue;
    const list = children.get(e.causationid) ?? [];
    list.push(e);
    children.set(e.causationid, list);
  }
  const stack = [id];
  while (stack.length > 0) {
    const next = stack.pop()!;
    for (const child of children.get(next) ?? []) {
      if (!keep.has(child.id)) {
        keep.add(child.id);
        stack.push(child.id);
      }
    }
  }
  return chain.filter((e) => keep.has(e.id)).sort(compareEvents);
}

export function compareEvents(a: SwitchyardEvent, b: SwitchyardEvent): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Whether a consumer of `types` receives events of `type`. */
export function matchesTypes(types: readonly string[], type: string): boolean {
  return types.includes('*') || types.includes(type);
}
