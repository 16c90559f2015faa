import type { Logger } from 'pino';
import { type BackoffPolicy, defaultBackoff } from './backoff.js';
import { type Clock, systemClock } from './clock.js';
import { currentDelivery, runInDelivery } from './context.js';
import { ErrorCodes, RetryableError, toErrorInfo } from './errors.js';
import type { EventMap, EventOf, EventType, SwitchyardEvent } from './events/envelope.js';
import type { EventRegistry } from './events/registry.js';
import type { SwitchyardMetrics } from './metrics.js';
import type { AppendResult, Consumer, DeliveryHandler, Transport } from './transport.js';

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
  readonly #shutdown = new AbortController();

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
    this.#metrics?.eventsPublished.inc({ type: event.type, duplicate: String(result.duplicate) });
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
    this.#shutdown.abort(new Error('bus stopped'));
  }

  /** The transport-facing handler: never throws; reports the outcome the transport acts on. */
  private wrap(
    subscription: string,
    timeoutMs: number,
    maxAttempts: number,
    handler: EventHandler,
  ): DeliveryHandler {
    const metrics = this.#metrics;
    const logger = this.#logger;
    const clock = this.clock;
    const shutdown = this.#shutdown.signal;
    return async ({ event, attempt }) => {
      const controller = new AbortController();
      const onShutdown = () => controller.abort(shutdown.reason);
      shutdown.addEventListener('abort', onShutdown, { once: true });
      let cancelTimer: (() => void) | undefined;
      const started = performance.now();
      try {
        const timeout = new Promise<never>((_, reject) => {
          cancelTimer = clock.setTimer(() => {
            const error = new RetryableError(
              ErrorCodes.HANDLER_TIMEOUT,
              `handler of subscription "${subscription}" ran past its ${timeoutMs} ms timeout on ${event.type} ${event.id}`,
            );
            controller.abort(error);
            reject(error);
          }, timeoutMs);
        });
        const context: HandlerContext = { subscription, attempt, signal: controller.signal };
        const run = runInDelivery({ event, subscription, attempt }, async () => handler(event, context));
        const result = await Promise.race([run, timeout]);
        metrics?.deliveries.inc({ subscription, type: event.type, outcome: 'delivered' });
        return { ok: true, result: result === undefined ? undefined : result };
      } catch (error) {
        const info = toErrorInfo(error);
        const dead = !info.retryable || attempt >= maxAttempts;
        if (metrics) {
          metrics.deliveries.inc({
            subscription,
            type: event.type,
            outcome: dead ? 'dead_lettered' : 'failed',
          });
          if (dead) metrics.deadLettered.inc({ subscription, type: event.type });
          else metrics.retries.inc({ subscription, type: event.type });
        }
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
        cancelTimer?.();
        shutdown.removeEventListener('abort', onShutdown);
        metrics?.handlerDuration.observe(
          { subscription, type: event.type },
          (performance.now() - started) / 1000,
        );
      }
    };
  }
}
