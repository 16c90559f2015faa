import type { Clock, Logger } from '@switchyard/core';
import type { GroupCommit } from './group-commit.js';
import type { Queries } from './queries.js';

export interface RetentionOptions {
  /** Events (and their finished deliveries, and idempotency records) older than this go. */
  maxAgeMs?: number;
  /** Only the newest this-many events are kept. */
  maxEvents?: number;
  /** How often pruning runs; default one minute. */
  intervalMs?: number;
}

/** Rows deleted per transaction: small, so appends and deliveries queue behind it only briefly. */
const BATCH = 500;

/**
 * Prunes on a timer in small batches, each its own group-commit operation, yielding to the event
 * loop between batches. Never prunes what is still owed to someone: events a consumer has not
 * passed yet, events with a pending retry or replay, and events of a dead letter (kept until
 * dropped).
 */
export class Retention {
  readonly #options: RetentionOptions;
  readonly #queries: Queries;
  readonly #commit: GroupCommit;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  #cancel: (() => void) | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(
    options: RetentionOptions,
    queries: Queries,
    commit: GroupCommit,
    clock: Clock,
    logger?: Logger,
  ) {
    this.#options = options;
    this.#queries = queries;
    this.#commit = commit;
    this.#clock = clock;
    this.#logger = logger;
  }

  get enabled(): boolean {
    return this.#options.maxAgeMs !== undefined || this.#options.maxEvents !== undefined;
  }

  start(): void {
    if (!this.enabled || this.#stopped) return;
    this.#cancel = this.#clock.setTimer(() => {
      this.#running = this.prune()
        .catch((error: unknown) => {
          this.#logger?.error({ err: (error as Error).message }, 'pruning old events failed; will try again');
        })
        .finally(() => {
          this.#running = undefined;
          this.start();
        });
    }, this.#options.intervalMs ?? 60_000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#running;
  }

  /** One full pass; returns how many events and idempotency records were deleted. */
  async prune(): Promise<{ events: number; idempotency: number }> {
    const { maxAgeMs, maxEvents } = this.#options;
    let events = 0;
    let idempotency = 0;
    for (;;) {
      if (this.#stopped) break;
      const deleted = await this.#commit.run(() => {
        const now = this.#clock.now();
        const bound = this.#queries.minCursor() ?? this.#queries.tailSeq();
        const cutoff = maxAgeMs === undefined ? null : now - maxAgeMs;
        const countBound = maxEvents === undefined ? null : this.#queries.tailSeq() - maxEvents;
        const seqs = this.#queries.prunable(bound, cutoff, countBound, BATCH);
        for (const seq of seqs) this.#queries.deleteEvent(seq);
        return seqs.length;
      });
      events += deleted;
      if (deleted < BATCH) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (maxAgeMs !== undefined) {
      for (;;) {
        if (this.#stopped) break;
        const n = await this.#commit.run(() =>
          this.#queries.pruneIdempotency(this.#clock.now() - maxAgeMs, BATCH),
        );
        idempotency += n;
        if (n < BATCH) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (events > 0) this.#logger?.info({ events, idempotency }, 'pruned old events');
    return { events, idempotency };
  }
}
