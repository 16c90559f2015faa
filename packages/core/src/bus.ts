import type { Logger } from 'pino';
import { type BackoffPolicy, defaultBackoff } from './backoff.js';
import { type Clock, systemClock } from './clock.js';
import { currentDelivery, runInDelivery } from './context.js';
import { ErrorCodes, RetryableError, toErrorInfo } from './errors.js';
import type { EventMap, EventOf, EventType, SwitchyardEvent } from './events/envelope.js';
import type { EventRegistry } from './events/registry.js';
import type { SwitchyardMetrics } from './metrics.js';
import type { AppendResult, Consumer, DeliveryHandler, Transport } from './transport.js';
import { Watchdog, type Watched } from './watchdog.js';

export interface PublishOptions {
  subject?: string;
  source?: string;
  /** Keep an id the sender chose (CloudEvents ingest); otherwise a UUIDv7 is generated. */
  id?: string;
  time?: string;
  /** The sender's delivery id, for ingest dedupe. */
  deliveryKey?: string;
  /**
   * The event this one is a consequence of. Inside a handler it defaults to the event being
   * handled, so correlation and causation ids are set without the author doing anything.
   */
  cause?: Pick<SwitchyardEvent, 'id' | 'correlationid'> | null;
}

export type PublishResult<K extends string = string> = AppendResult & {
  event: SwitchyardEvent<K, DataOf<K>>;
};

/** Data of a known event type; `unknown` for a type not in the event map (validated at run time). */
export type DataOf<K extends string> = K extends EventType ? EventMap[K] : unknown;

export interface HandlerContext {
  subscription: string;
  attempt: number;
  /** Aborted when the handler runs past its timeout or the bus shuts down. */
  signal: AbortSignal;
}

export type EventHandler<E extends SwitchyardEvent = SwitchyardEvent> = (
  event: E,
  context: HandlerContext,
) => unknown | Promise<unknown>;

type HandledEvent<T> = T extends readonly (infer K)[]
  ? K extends EventType
    ? EventOf<K>
    : SwitchyardEvent
  : SwitchyardEvent;

export interface SubscribeOptions<T extends readonly string[]> {
  /** Durable consumer name: stable across restarts, unique in the process. */
  id: string;
  types: T;
  handler: EventHandler<HandledEvent<T>>;
  maxAttempts?: number;
  backoff?: Partial<BackoffPolicy>;
  timeoutMs?: number;
  concurrency?: number;
}

export interface BusOptions {
  transport: Transport;
  registry: EventRegistry;
  clock?: Clock;
  logger?: Logger;
  metrics?: SwitchyardMetrics;
  /** CloudEvents `source` when a publisher gives none. */
  source?: string;
}

export const SUBSCRIPTION_DEFAULTS = { maxAttempts: 8, timeoutMs: 30_000, concurrency: 1 } as const;

/**
 * Publishes validated events to the transport and runs subscription handlers with timeouts,
 * abort signals and error classification. Scheduling and persistence are the transport's.
 */
export class Bus {
  readonly transport: Transport;
  readonly registry: EventRegistry;
  readonly clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #metrics: SwitchyardMetrics | undefined;
  readonly #source: string;
  readonly #consumers = new Map<string, Consumer>();
  readonly #watchdogs = new Set<Watchdog>();
  readonly #published = new Map<string, Counter>();

  constructor(options: BusOptions) {
    this.transport = options.transport;
    this.registry = options.registry;
    this.clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#source = options.source ?? 'switchyard';
  }

  /** Validates and durably appends an event; resolves once it is stored. */
  async publish<K extends string>(
    type: K,
    data: DataOf<K>,
    options: PublishOptions = {},
  ): Promise<PublishResult<K>> {
    const cause = options.cause === null ? undefined : (options.cause ?? currentDelivery()?.event);
    const event = this.registry.create(
      {
        type,
        data,
        id: options.id,
        source: options.source ?? this.#source,
        subject: options.subject,
        time: options.time,
        cause,
      },
      this.clock.now(),
    );
    return this.append(event, options.deliveryKey) as Promise<PublishResult<K>>;
  }

  /**
   * Appends an envelope that arrived from outside (HTTP ingest): validated as a whole, the id the
   * sender gave kept, so the same source + id posted twice is stored once.
   */
  async publishEnvelope(raw: unknown, options: { deliveryKey?: string } = {}): Promise<PublishResult> {
    const event = this.registry.decode(raw, this.clock.now());
    return this.append(event, options.deliveryKey ?? `ce:${event.source}:${event.id}`);
  }

  private async append(event: SwitchyardEvent, deliveryKey?: string): Promise<PublishResult> {
    const result = await this.transport.append(
      event,
      deliveryKey === undefined ? undefined : { deliveryKey },
    );
    if (this.#metrics) {
      const key = result.duplicate ? `${event.type}\u0000dup` : event.type;
      let counter = this.#published.get(key);
      if (!counter) {
        counter = this.#metrics.eventsPublished.labels({
          type: event.type,
          duplicate: String(result.duplicate),
        });
        this.#published.set(key, counter);
      }
      counter.inc();
    }
    return result;
  }

  /** Starts a durable subscription; the returned function stops it (in-flight deliveries finish). */
  async subscribe<const T extends readonly string[]>(
    options: SubscribeOptions<T>,
  ): Promise<(options?: { deadlineMs?: number }) => Promise<void>> {
    if (this.#consumers.has(options.id)) {
      throw new RetryableError(
        ErrorCodes.SUBSCRIPTION_EXISTS,
        `subscription "${options.id}" is already running`,
      );
    }
    for (const type of options.types) {
      if (type !== '*' && !this.registry.has(type)) this.registry.validateData(type, undefined); // throws, naming known types
    }
    const spec = {
      id: options.id,
      types: [...options.types],
      maxAttempts: options.maxAttempts ?? SUBSCRIPTION_DEFAULTS.maxAttempts,
      backoff: { ...defaultBackoff, ...options.backoff },
      timeoutMs: options.timeoutMs ?? SUBSCRIPTION_DEFAULTS.timeoutMs,
      concurrency: options.concurrency ?? SUBSCRIPTION_DEFAULTS.concurrency,
    };
    const handler = this.wrap(spec.id, spec.timeoutMs, spec.maxAttempts, options.handler as EventHandler);
    const consumer = await this.transport.consume(spec, handler);
    this.#consumers.set(spec.id, consumer);
    return async (stopOptions) => {
      this.#consumers.delete(spec.id);
      await consumer.stop(stopOptions);
    };
  }

  /** Stops every subscription this bus started, waiting up to the deadline for in-flight work. */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    await Promise.all(consumers.map((c) => c.stop(options)));
    for (const w of this.#watchdogs) w.abortAll(new Error('bus stopped'));
  }

  /** The transport-facing handler: never throws; reports the outcome the transport acts on. */
  private wrap(
    subscription: string,
    timeoutMs: number,
    maxAttempts: number,
    handler: EventHandler,
  ): DeliveryHandler {
    const logger = this.#logger;
    const metrics = this.#metrics ? new SubscriptionMetrics(this.#metrics, subscription) : undefined;
    let current: SwitchyardEvent | undefined;
    const watchdog = new Watchdog(
      this.clock,
      timeoutMs,
      () =>
        new RetryableError(
          ErrorCodes.HANDLER_TIMEOUT,
          `handler of subscription "${subscription}" ran past its ${timeoutMs} ms timeout${current ? ` on ${current.type} ${current.id}` : ''}`,
        ),
    );
    this.#watchdogs.add(watchdog);
    return async ({ event, attempt }) => {
      const watched = watchdog.watch();
      const started = metrics ? performance.now() : 0;
      try {
        current = event;
        const context = new DeliveryContext(subscription, attempt, watched);
        let result = runInDelivery({ event, subscription, attempt }, () => handler(event, context));
        if (isPromiseLike(result)) {
          const pending = result;
          result = await new Promise((resolve, reject) => {
            watched.expire = reject;
            pending.then(resolve, reject);
          });
        }
        metrics?.delivered(event.type, started);
        return result === undefined ? { ok: true } : { ok: true, result };
      } catch (error) {
        const info = toErrorInfo(error);
        const dead = !info.retryable || attempt >= maxAttempts;
        metrics?.failed(event.type, started, dead);
        logger?.warn(
          {
            eventId: event.id,
            correlationId: event.correlationid,
            type: event.type,
            subscription,
            attempt,
            code: info.code,
            retryable: info.retryable,
            deadLettered: dead,
            err: info.message,
          },
          dead ? 'delivery dead-lettered' : 'delivery failed; will retry',
        );
        return { ok: false, error: info };
      } finally {
        watched.done = true;
      }
    };
  }
}

/** The context a handler receives; its AbortSignal is created only if the handler asks for it. */
class DeliveryContext implements HandlerContext {
  constructor(
    readonly subscription: string,
    readonly attempt: number,
    private readonly watched: Watched,
  ) {}

  get signal(): AbortSignal {
    this.watched.controller ??= new AbortController();
    return this.watched.controller.signal;
  }
}

/** prom-client children cached per event type: label hashing on every event costs more than the work. */
class SubscriptionMetrics {
  readonly #byType = new Map<
    string,
    {
      delivered: Counter;
      failed: Counter;
      dead: Counter;
      deadLettered: Counter;
      retries: Counter;
      duration: Observer;
    }
  >();

  constructor(
    private readonly metrics: SwitchyardMetrics,
    private readonly subscription: string,
  ) {}

  delivered(type: string, started: number): void {
    const m = this.for(type);
    m.delivered.inc();
    m.duration.observe((performance.now() - started) / 1000);
  }

  failed(type: string, started: number, dead: boolean): void {
    const m = this.for(type);
    m.duration.observe((performance.now() - started) / 1000);
    if (dead) {
      m.dead.inc();
      m.deadLettered.inc();
    } else {
      m.failed.inc();
      m.retries.inc();
    }
  }

  private for(type: string) {
    let m = this.#byType.get(type);
    if (!m) {
      const labels = { subscription: this.subscription, type };
      m = {
        delivered: this.metrics.deliveries.labels({ ...labels, outcome: 'delivered' }),
        failed: this.metrics.deliveries.labels({ ...labels, outcome: 'failed' }),
        dead: this.metrics.deliveries.labels({ ...labels, outcome: 'dead_lettered' }),
        deadLettered: this.metrics.deadLettered.labels(labels),
        retries: this.metrics.retries.labels(labels),
        duration: this.metrics.handlerDuration.labels(labels),
      };
      this.#byType.set(type, m);
    }
    return m;
  }
}

interface Counter {
  inc(): void;
}
interface Observer {
  observe(value: number): void;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
