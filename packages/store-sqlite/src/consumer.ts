import {
  type Clock,
  type Consumer,
  type ConsumerSpec,
  type DeliveryHandler,
  type DeliveryOutcome,
  type ErrorInfo,
  type Logger,
  matchesTypes,
  retryDelay,
  type SwitchyardEvent,
  toErrorInfo,
} from '@switchyard/core';
import type { GroupCommit } from './group-commit.js';
import type { Queries } from './queries.js';

/** Stream entries waiting for their completion to commit; bounds redeliveries after a crash. */
const WRITE_WINDOW = 512;
/** Events read ahead of the handlers, from the database or handed over by append. */
const READ_AHEAD = 2048;
/** How long a failed write of a delivery's outcome waits before it is tried again. */
const WRITE_RETRY_MS = 1_000;

const QUEUED = 0;
const RUNNING = 1;
const DONE = 2;

interface Entry {
  seq: number;
  event: SwitchyardEvent;
  state: number;
}

interface Due {
  seq: number;
  event: SwitchyardEvent;
  attempt: number;
}

export interface ConsumerContext {
  readonly queries: Queries;
  readonly commit: GroupCommit;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  /** Highest committed event seq. */
  tailSeq(): number;
}

/**
 * One durable subscription. Its position (`cursor`) is the seq below which every matching event
 * has a committed outcome; outcomes themselves are rows in `deliveries`. Events past the cursor
 * are read in seq order (or handed over straight from a commit when the consumer is caught up),
 * so the common path costs one row write per delivery and no reads. Retries, replays and
 * deliveries interrupted by a crash are rows that come due on the clock.
 */
export class SqliteConsumer implements Consumer {
  spec: ConsumerSpec;
  #handler: DeliveryHandler | undefined;
  #active = false;
  #generation = 0;
  readonly #ctx: ConsumerContext;

  #window: Entry[] = [];
  #head = 0;
  #next = 0;
  #readPos = 0;
  #cursor = 0;
  #persistedCursor = 0;
  /** Seqs past the cursor that already have an outcome row from an earlier run. */
  #skip = new Set<number>();

  #due: Due[] = [];
  /** Seqs of outcome rows this process is working on (queued, running or writing). */
  readonly #claimed = new Set<number>();
  readonly #runningDue = new Map<number, number>();
  #dueCheck = false;
  #cancelTimer: (() => void) | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  #running = 0;
  #writing = 0;
  #pumping = false;
  #idle: (() => void) | undefined;

  constructor(spec: ConsumerSpec, ctx: ConsumerContext) {
    this.spec = spec;
    this.#ctx = ctx;
  }

  get id(): string {
    return this.spec.id;
  }

  get active(): boolean {
    return this.#active;
  }

  /** Loads the persisted position and starts delivering. */
  start(spec: ConsumerSpec, handler: DeliveryHandler, cursor: number): void {
    this.spec = spec;
    this.#handler = handler;
    this.#cursor = cursor;
    this.#persistedCursor = cursor;
    this.#readPos = cursor;
    this.#window = [];
    this.#head = 0;
    this.#next = 0;
    this.#skip = new Set(this.#ctx.queries.outcomeSeqsAfter(spec.id, cursor));
    this.#due = [];
    this.#claimed.clear();
    this.#runningDue.clear();
    this.#active = true;
    this.#dueCheck = true;
    this.pump();
  }

  /** Called after every commit that appended events; `before` is the tail before them. */
  appended(batch: ReadonlyArray<{ seq: number; event: SwitchyardEvent }>, before: number): void {
    if (!this.#active || batch.length === 0) return;
    if (this.#readPos === before && this.#window.length - this.#next < READ_AHEAD) {
      for (const item of batch) {
        if (matchesTypes(this.spec.types, item.event.type)) {
          this.#window.push({ seq: item.seq, event: item.event, state: QUEUED });
        }
      }
      this.#readPos = batch[batch.length - 1]!.seq;
      this.advance();
    }
    this.pump();
  }

  /** Outcome rows of this subscription changed (replay): look for due work now. */
  wake(): void {
    if (!this.#active) return;
    this.#dueCheck = true;
    this.pump();
  }

  /** Whether this process is running a delivery of `seq` right now, and which attempt. */
  inFlight(seq: number): number | undefined {
    const due = this.#runningDue.get(seq);
    if (due !== undefined) return due;
    for (let i = this.#head; i < this.#next; i++) {
      const entry = this.#window[i]!;
      if (entry.seq === seq) return entry.state === RUNNING ? 1 : undefined;
    }
    return undefined;
  }

  /** The position to persist, if it moved since the last commit. */
  dirtyCursor(): number | undefined {
    return this.#cursor === this.#persistedCursor ? undefined : this.#cursor;
  }

  cursorPersisted(cursor: number): void {
    this.#persistedCursor = cursor;
  }

  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    if (!this.#active) return;
    this.#active = false;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#running > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      let cancel: (() => void) | undefined;
      const deadline = new Promise<void>((resolve) => {
        cancel = this.#ctx.clock.setTimer(resolve, options.deadlineMs ?? 30_000);
      });
      await Promise.race([drained, deadline]);
      cancel?.();
      this.#idle = undefined;
    }
    // Deliveries still running past the deadline are released: their outcomes are ignored and,
    // having no row, they run again when the consumer resumes (at-least-once).
    this.#generation++;
    this.#running = 0;
    this.#writing = 0;
    await this.#ctx.commit.idle();
    this.#ctx.commit.touch();
    await this.#ctx.commit.idle();
  }

  private pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#active && this.#running < this.spec.concurrency) {
        if (this.#dueCheck) {
          this.#dueCheck = false;
          this.loadDue();
        }
        const due = this.#due.shift();
        if (due) {
          this.runDue(due);
          continue;
        }
        if (this.#writing >= WRITE_WINDOW) break;
        if (this.#next >= this.#window.length && !this.fill()) break;
        const entry = this.#window[this.#next++]!;
        this.runEntry(entry);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Reads the next events past readPos from the database; false when there are none. */
  private fill(): boolean {
    const tail = this.#ctx.tailSeq();
    while (this.#readPos < tail) {
      // Bounded by the synced tail: rows past it are committed but wait for their sync.
      const rows = this.#ctx.queries.eventsAfter(this.#readPos, tail, 256);
      if (rows.length === 0) {
        this.#readPos = tail;
        break;
      }
      for (const row of rows) {
        this.#readPos = row.seq;
        if (this.#skip.delete(row.seq)) continue;
        if (matchesTypes(this.spec.types, row.type)) {
          this.#window.push({ seq: row.seq, event: this.#ctx.queries.parseEvent(row.body), state: QUEUED });
        }
      }
      if (this.#next < this.#window.length) return true;
    }
    this.advance();
    return this.#next < this.#window.length;
  }

  private loadDue(): void {
    const now = this.#ctx.clock.now();
    const rows = this.#ctx.queries.dueDeliveries(this.spec.id, now, this.#claimed.size + 256);
    for (const row of rows) {
      if (this.#claimed.has(row.seq)) continue;
      this.#claimed.add(row.seq);
      this.#due.push({
        seq: row.seq,
        event: this.#ctx.queries.parseEvent(row.body),
        attempt: row.attempts + 1,
      });
    }
    const next = this.#ctx.queries.nextDueAt(this.spec.id, now);
    if (next !== undefined) this.scheduleDue(next);
  }

  private scheduleDue(at: number): void {
    if (!this.#active || at >= this.#timerAt) return;
    this.#cancelTimer?.();
    this.#timerAt = at;
    this.#cancelTimer = this.#ctx.clock.setTimer(
      () => {
        this.#cancelTimer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.wake();
      },
      Math.max(0, at - this.#ctx.clock.now()),
    );
  }

  private runEntry(entry: Entry): void {
    entry.state = RUNNING;
    this.invoke(entry.seq, entry.event, 1, () => {
      entry.state = DONE;
      this.advance();
    });
  }

  private runDue(due: Due): void {
    this.#runningDue.set(due.seq, due.attempt);
    this.invoke(due.seq, due.event, due.attempt, () => {
      this.#claimed.delete(due.seq);
    });
  }

  private invoke(seq: number, event: SwitchyardEvent, attempt: number, committed: () => void): void {
    const generation = this.#generation;
    const handler = this.#handler!;
    this.#running++;
    let outcome: Promise<DeliveryOutcome>;
    try {
      outcome = handler({ event, subscription: this.spec.id, attempt });
    } catch (error) {
      outcome = Promise.resolve({ ok: false, error: toErrorInfo(error) });
    }
    outcome
      .catch((error: unknown): DeliveryOutcome => ({ ok: false, error: toErrorInfo(error) }))
      .then((result) => {
        if (generation !== this.#generation) return;
        this.#running--;
        this.#runningDue.delete(seq);
        this.#writing++;
        const nextAt = this.record(seq, event, attempt, result, generation, committed);
        if (this.#running === 0) this.#idle?.();
        if (nextAt !== undefined) this.scheduleDue(nextAt);
        this.pump();
      });
  }

  /** Queues the outcome row; returns when the next attempt is due, for a retry. */
  private record(
    seq: number,
    event: SwitchyardEvent,
    attempt: number,
    outcome: DeliveryOutcome,
    generation: number,
    committed: () => void,
  ): number | undefined {
    const now = this.#ctx.clock.now();
    const q = this.#ctx.queries;
    const subscription = this.spec.id;
    let write: () => void;
    let nextAt: number | undefined;
    if (outcome.ok) {
      const result = this.encodeResult(outcome.result, event);
      write = () => q.putOutcome(subscription, seq, 'succeeded', attempt, null, null, result, now);
    } else if (!outcome.error.retryable || attempt >= this.spec.maxAttempts) {
      const error = encodeError(outcome.error);
      write = () => {
        q.putOutcome(subscription, seq, 'dead', attempt, null, error, null, now);
        q.insertDeadLetter(subscription, seq, event.type, attempt, error, now);
      };
    } else {
      nextAt = now + retryDelay(attempt, this.spec.backoff, outcome.error.retryAfterMs);
      const error = encodeError(outcome.error);
      const at = nextAt;
      write = () => q.putOutcome(subscription, seq, 'retrying', attempt, at, error, null, now);
    }
    const attemptWrite = (): void => {
      // Committed is enough to free the slot: a crash of the process keeps the outcome, and the
      // sync that puts it on disk follows at once without holding the next delivery back.
      this.#ctx.commit.run(write, { durable: false }).then(
        () => {
          if (generation !== this.#generation) return;
          this.#writing--;
          committed();
          this.pump();
        },
        (error: unknown) => {
          if (generation !== this.#generation) return;
          // The batch was rolled back (disk full, I/O): the outcome is not lost while we live,
          // so keep it and write it again; a crash meanwhile means a redelivery, as promised.
          this.#ctx.logger?.error(
            { err: (error as Error).message, subscription, eventId: event.id },
            'recording a delivery outcome failed; retrying the write',
          );
          this.#ctx.clock.setTimer(() => {
            if (generation === this.#generation) attemptWrite();
          }, WRITE_RETRY_MS);
        },
      );
    };
    attemptWrite();
    return nextAt;
  }

  private encodeResult(result: unknown, event: SwitchyardEvent): string | null {
    if (result === undefined) return null;
    try {
      return JSON.stringify(result) ?? null;
    } catch (error) {
      this.#ctx.logger?.warn(
        { subscription: this.spec.id, eventId: event.id, err: (error as Error).message },
        'handler result cannot be stored as JSON (SY_SQLITE_VALUE_UNSERIALIZABLE); recorded without it',
      );
      return null;
    }
  }

  /** Moves the cursor over every leading entry whose outcome is committed. */
  private advance(): void {
    const w = this.#window;
    while (this.#head < this.#next && w[this.#head]!.state === DONE) this.#head++;
    const cursor = this.#head < w.length ? w[this.#head]!.seq - 1 : this.#readPos;
    if (this.#head > 1024 && this.#head * 2 > w.length) {
      w.splice(0, this.#head);
      this.#next -= this.#head;
      this.#head = 0;
    }
    if (cursor > this.#cursor) {
      this.#cursor = cursor;
      this.#ctx.commit.touch();
    }
  }
}

function encodeError(error: ErrorInfo): string {
  return JSON.stringify(error);
}
