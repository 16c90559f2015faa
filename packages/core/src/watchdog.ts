import type { Clock } from './clock.js';

export interface Watched {
  deadline: number;
  done: boolean;
  /** Created only when the handler reads its signal: most handlers never do. */
  controller: AbortController | undefined;
  expire: ((reason: Error) => void) | undefined;
}

/**
 * Handler deadlines of one subscription. Deliveries of a subscription share one timeout, so their
 * deadlines arrive in start order: one armed timer for the oldest replaces a timer per delivery
 * (setTimeout + clearTimeout per event dominated the in-memory bus's cost).
 */
export class Watchdog {
  readonly #queue: Watched[] = [];
  #head = 0;
  #cancel: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly onExpire: (entry: Watched) => Error,
  ) {}

  watch(): Watched {
    const entry: Watched = {
      deadline: this.clock.now() + this.timeoutMs,
      done: false,
      controller: undefined,
      expire: undefined,
    };
    this.#queue.push(entry);
    if (!this.#cancel) this.arm();
    return entry;
  }

  /** Aborts every running handler (bus shutdown). */
  abortAll(reason: Error): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const entry = this.#queue[i]!;
      if (!entry.done) entry.controller?.abort(reason);
    }
  }

  private arm(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.done) this.#head++;
    this.compact();
    const next = this.#queue[this.#head];
    if (!next) {
      this.#cancel = undefined;
      return;
    }
    this.#cancel = this.clock.setTimer(() => this.fire(), next.deadline - this.clock.now());
  }

  private fire(): void {
    this.#cancel = undefined;
    const now = this.clock.now();
    while (this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head]!;
      if (!entry.done) {
        if (entry.deadline > now) break;
        entry.done = true;
        const error = this.onExpire(entry);
        entry.controller?.abort(error);
        entry.expire?.(error);
      }
      this.#head++;
    }
    this.arm();
  }

  private compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
