import type { ConsumerMessages, Consumer as JsConsumer, JsMsg } from '@nats-io/jetstream';
import {
  type Clock,
  type Consumer,
  type ConsumerSpec,
  type DeliveryHandler,
  type DeliveryOutcome,
  type DeliveryRecord,
  type ErrorInfo,
  type Logger,
  retryDelay,
  type SwitchyardEvent,
  toErrorInfo,
} from '@switchyard/core';
import type { Connection } from './connection.js';
import type { DeadLetterStore } from './dlq.js';
import { NatsErrorCodes } from './errors.js';
import type { DeliveryRecords } from './kv.js';
import type { Names } from './names.js';
import { REPLAY_HEADER } from './queries.js';

/** How long one pull request waits on the server for messages before it is renewed. */
const FETCH_EXPIRES_MS = 5_000;

export interface ConsumerDeps {
  connection: Connection;
  names: Names;
  records: DeliveryRecords;
  deadLetters: DeadLetterStore;
  clock: Clock;
  logger: Logger | undefined;
  ackWaitMs: number;
}

interface InFlight {
  msg: JsMsg;
  /** Set when stop() gave the message back: the handler's outcome is then ignored. */
  released: boolean;
  done: Promise<void>;
}

/**
 * One subscription on its durable pull consumer. Pull requests ask for exactly the free slots
 * (concurrency − running − requested), so no message waits in a client buffer while its ack wait
 * runs. The message is acked only after the handler succeeded (its success record is sent on the
 * same connection just before the ack; retry and dead records are awaited before nak/term),
 * nak'ed with the backoff delay on a retryable failure, and moved to the dead-letter stream then
 * terminated after maxAttempts or on a permanent failure. While a handler runs, the message's ack
 * wait is extended every ackWait/3 ("working").
 */
export class NatsConsumer implements Consumer {
  readonly id: string;
  #running = true;
  readonly #inFlight = new Set<InFlight>();
  #requested = 0;
  readonly #fetches = new Set<ConsumerMessages>();
  #wake: (() => void) | undefined;
  #failures = 0;
  #loop: Promise<void> | undefined;
  #onStopped: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Records and acks of deliveries that succeeded during this turn of the event loop. */
  #outbox: Array<() => void> = [];
  #outboxScheduled = false;

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly spec: ConsumerSpec,
    private readonly handler: DeliveryHandler,
    private readonly jsConsumer: JsConsumer,
    private readonly clientTypes: ReadonlySet<string> | undefined,
    onStopped: () => void,
  ) {
    this.id = spec.id;
    this.#onStopped = onStopped;
  }

  start(): void {
    // One timer for all running handlers (not one per message): every ackWait/3 each message still
    // in flight gets a "working" ack, so its ack wait never runs out while it is handled.
    this.#heartbeat = setInterval(
      () => {
        for (const f of this.#inFlight) {
          // Throws once the client closed the connection for good: the message comes back to a
          // runner after its ack wait, which is all that can happen then (not a process crash).
          if (!f.released) this.#safely('in-progress ack', () => f.msg.working());
        }
      },
      Math.max(100, Math.floor(this.deps.ackWaitMs / 3)),
    );
    this.#heartbeat.unref();
    this.#loop = this.pullLoop();
  }

  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#notify();
    for (const f of this.#fetches) f.stop();
    if (this.#inFlight.size > 0) {
      let cancel: (() => void) | undefined;
      const deadline = new Promise<void>((resolve) => {
        cancel = this.deps.clock.setTimer(resolve, options.deadlineMs ?? 30_000);
      });
      await Promise.race([Promise.all([...this.#inFlight].map((f) => f.done)), deadline]);
      cancel?.();
    }
    this.#flushOutbox(); // before the caller closes the connection
    // Deliveries still running past the deadline go back to the server at once, so another runner
    // (or this one on resume) takes them; their late outcomes are ignored.
    for (const f of this.#inFlight) {
      f.released = true;
      f.msg.nak();
    }
    this.#inFlight.clear();
    clearInterval(this.#heartbeat);
    await this.#loop;
    this.#onStopped?.();
    this.#onStopped = undefined;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #changed(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.deps.clock.setTimer(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        cancel();
        resolve();
      };
    });
  }

  private async pullLoop(): Promise<void> {
    const { concurrency } = this.spec;
    const minBatch = Math.max(1, Math.floor(concurrency / 4));
    while (this.#running) {
      if (this.#failures > 0 || !this.deps.connection.connected) {
        // Disconnected or the last pull failed: back off instead of spinning.
        await this.#changed(Math.min(5_000, 100 * 2 ** Math.min(this.#failures, 6)));
        if (!this.deps.connection.connected) continue;
      }
      const free = concurrency - this.#inFlight.size - this.#requested;
      if (free <= 0 || (this.#requested > 0 && free < minBatch)) {
        await this.#changed(FETCH_EXPIRES_MS);
        continue;
      }
      this.#requested += free;
      let batch: ConsumerMessages;
      try {
        batch = await this.jsConsumer.fetch({ max_messages: free, expires: FETCH_EXPIRES_MS });
      } catch (error) {
        this.#requested -= free;
        this.#failures++;
        this.deps.logger?.warn(
          { subscription: this.id, err: (error as Error).message },
          'NATS pull failed; retrying',
        );
        continue;
      }
      if (!this.#running) {
        batch.stop();
        this.#requested -= free;
        break;
      }
      void this.drain(batch, free);
    }
  }

  private async drain(batch: ConsumerMessages, requested: number): Promise<void> {
    this.#fetches.add(batch);
    let received = 0;
    let failed = false;
    try {
      for await (const msg of batch) {
        received++;
        this.#requested--;
        if (!this.#running) {
          msg.nak();
          continue;
        }
        this.dispatch(msg);
      }
    } catch (error) {
      failed = true;
      this.deps.logger?.debug?.({ subscription: this.id, err: (error as Error).message }, 'NATS pull ended');
    } finally {
      this.#fetches.delete(batch);
      this.#requested -= requested - received;
      this.#failures = failed ? this.#failures + 1 : 0;
      this.#notify();
    }
  }

  private dispatch(msg: JsMsg): void {
    const replayFor = msg.headers?.get(REPLAY_HEADER);
    if (replayFor && replayFor !== this.id) {
      msg.ack(); // a dead letter replayed for another subscription
      return;
    }
    if (this.clientTypes && !this.clientTypes.has(this.deps.names.typeOfSubject(msg.subject))) {
      msg.ack();
      return;
    }
    let event: SwitchyardEvent;
    try {
      event = msg.json<SwitchyardEvent>();
    } catch (error) {
      this.deps.logger?.error(
        { subscription: this.id, subject: msg.subject, seq: msg.seq, err: (error as Error).message },
        'message on the events stream is not a Switchyard event; terminated',
      );
      msg.term();
      return;
    }
    const entry: InFlight = { msg, released: false, done: Promise.resolve() };
    this.#inFlight.add(entry);
    entry.done = this.run(entry, event)
      .catch((error) => {
        // Settling failed (the connection closed under it): the message is redelivered after its
        // ack wait. Logged, never an unhandled rejection that would end the process.
        this.deps.logger?.warn(
          { subscription: this.id, eventId: event.id, err: (error as Error).message },
          'delivery not settled; it will be redelivered',
        );
      })
      .finally(() => {
        this.#inFlight.delete(entry);
        this.#notify();
      });
  }

  private async run(entry: InFlight, event: SwitchyardEvent): Promise<void> {
    const { msg } = entry;
    const attempt = msg.info.deliveryCount;
    if (attempt > this.spec.maxAttempts) {
      // Delivered again and again without an outcome: the runners handling it died or lost their
      // connection each time (e.g. the handler crashes the process). Stop the loop here.
      await this.settle(entry, event, attempt, {
        ok: false,
        error: {
          code: NatsErrorCodes.DELIVERY_ABANDONED,
          message: `delivered ${attempt} times without an outcome (maxAttempts ${this.spec.maxAttempts}): the runners handling it stopped or lost their NATS connection each time`,
          retryable: false,
        },
      });
      return;
    }
    let outcome: DeliveryOutcome;
    try {
      outcome = await this.handler({ event, subscription: this.id, attempt });
    } catch (error) {
      outcome = { ok: false, error: toErrorInfo(error) };
    }
    if (entry.released) return;
    await this.settle(entry, event, attempt, outcome);
  }

  private async settle(
    entry: InFlight,
    event: SwitchyardEvent,
    attempt: number,
    outcome: DeliveryOutcome,
  ): Promise<void> {
    const { msg } = entry;
    const now = () => new Date(this.deps.clock.now()).toISOString();
    const base = { eventId: event.id, subscription: this.id, attempts: attempt };
    if (outcome.ok) {
      const record: DeliveryRecord = { ...base, status: 'succeeded', updatedAt: now() };
      if (outcome.result !== undefined) record.result = outcome.result;
      this.#post(() => {
        try {
          // Sent, not awaited: it leaves on the same connection in the same write as the ack.
          this.deps.records.send(record);
        } catch (error) {
          this.#recordLost(record, error);
        }
        if (!entry.released) this.#safely('ack', () => msg.ack());
      });
      return;
    }
    const error: ErrorInfo = outcome.error;
    if (!error.retryable || attempt >= this.spec.maxAttempts) {
      try {
        await this.deps.deadLetters.add(
          { subscription: this.id, event, attempts: attempt, lastError: error, deadAt: now() },
          `dead:${this.id}:${msg.seq}:${attempt}`,
        );
      } catch (e) {
        // Not stored as dead letter: keep it on the consumer and try again shortly.
        this.deps.logger?.warn(
          { subscription: this.id, eventId: event.id, err: (e as Error).message },
          'dead letter not stored; will retry',
        );
        if (!entry.released) msg.nak(1_000);
        return;
      }
      await this.record({ ...base, status: 'dead', lastError: error, updatedAt: now() });
      if (!entry.released) msg.term();
      return;
    }
    const delay = retryDelay(attempt, this.spec.backoff, error.retryAfterMs);
    await this.record({
      ...base,
      status: 'retrying',
      lastError: error,
      nextAttemptAt: new Date(this.deps.clock.now() + delay).toISOString(),
      updatedAt: now(),
    });
    if (!entry.released) msg.nak(delay);
  }

  private async record(record: DeliveryRecord): Promise<void> {
    try {
      await this.deps.records.put(record);
    } catch (error) {
      this.#recordLost(record, error);
    }
  }

  /**
   * Runs `send` at the end of this turn of the event loop, with the others posted meanwhile: the
   * client then writes all of them to the socket at once instead of once per delivery.
   */
  #post(send: () => void): void {
    this.#outbox.push(send);
    if (this.#outboxScheduled) return;
    this.#outboxScheduled = true;
    setImmediate(() => this.#flushOutbox());
  }

  #flushOutbox(): void {
    this.#outboxScheduled = false;
    const sends = this.#outbox;
    this.#outbox = [];
    for (const send of sends) send();
  }

  #safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.deps.logger?.warn({ subscription: this.id, err: (error as Error).message }, `${what} not sent`);
    }
  }

  #recordLost(record: DeliveryRecord, error: unknown): void {
    // A lost record must not redo a side effect: log it and settle the message anyway.
    this.deps.logger?.warn(
      {
        subscription: this.id,
        eventId: record.eventId,
        status: record.status,
        err: (error as Error).message,
      },
      'delivery record not written',
    );
  }
}
