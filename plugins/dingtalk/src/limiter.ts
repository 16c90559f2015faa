import { type Clock, type KeyValueStore, RetryableError } from '@switchyard/core';
import { DingTalkErrorCodes } from './errors.js';

/** Limiter state of one robot, stored under one key and changed only by compare-and-set. */
export interface LimiterState {
  /** When the last messages were sent (epoch ms, ascending), at most one window's worth. */
  sent: number[];
  /** The robot said "throttled": nobody sends before this time (epoch ms). */
  pausedUntil?: number;
}

export interface RobotLimiterOptions {
  store: KeyValueStore;
  clock: Clock;
  /** Store key, derived from a hash of the webhook (never the token). */
  key: string;
  ratePerMinute: number;
  /** DingTalk's window. */
  windowMs?: number;
  /**
   * Added to the window so a message that took a moment to reach DingTalk never lands inside the
   * previous window there.
   */
  marginMs?: number;
}

/**
 * Flow control for one robot: at most `ratePerMinute` sends in any window, a pause after DingTalk
 * throttles, and FIFO order for the sends of this process. The state lives in the plugin store, so
 * it survives restarts and is shared by every runner using the same store; writes are
 * compare-and-set, so two runners never both take the last slot.
 */
export class RobotLimiter {
  readonly #o: Required<RobotLimiterOptions>;
  #tail: Promise<void> = Promise.resolve();

  constructor(options: RobotLimiterOptions) {
    this.#o = { windowMs: 60_000, marginMs: 1_000, ...options };
  }

  get key(): string {
    return this.#o.key;
  }

  /**
   * Runs `fn` after every earlier `exclusive` call of this process has finished (queue order), so
   * the parts of one message and consecutive messages reach the robot in the order they were
   * asked for. Leaving the queue early (abort) keeps the order of the others.
   */
  async exclusive<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#tail = previous.then(() => mine);
    try {
      await untilDone(previous, signal);
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Takes a send slot, waiting (on the clock, abortable) until the window has room. Throws a
   * retryable SY_DINGTALK_PAUSED while the robot is paused after a throttle.
   */
  async acquire(signal: AbortSignal): Promise<void> {
    const { store, clock, key, ratePerMinute: rate } = this.#o;
    const span = this.#o.windowMs + this.#o.marginMs;
    for (;;) {
      signal.throwIfAborted();
      const entry = await store.get<LimiterState>(key);
      const state = readState(entry?.value);
      const now = clock.now();
      if (state.pausedUntil !== undefined && state.pausedUntil > now) {
        const wait = state.pausedUntil - now;
        throw new RetryableError(
          DingTalkErrorCodes.PAUSED,
          `the DingTalk robot is paused for another ${Math.ceil(wait / 1000)} s after DingTalk throttled it (20 messages a minute); the message is sent after the pause`,
          { retryAfterMs: wait, details: { robot: key } },
        );
      }
      const recent = state.sent.filter((t) => t > now - span).sort((a, b) => a - b);
      if (recent.length >= rate) {
        // Wait until enough old sends leave the window for one more.
        const wait = recent[recent.length - rate]! + span - now;
        await clock.sleep(Math.max(1, wait), signal);
        continue;
      }
      const next: LimiterState = { sent: [...recent, now] };
      if (await store.compareAndSet(key, next, entry?.revision ?? 0)) return;
      // Another runner (or send) wrote first: read its state and decide again.
    }
  }

  /** Pauses the robot until now + ms for every runner sharing the store (never shortens a pause). */
  async pause(ms: number): Promise<number> {
    const { store, clock, key } = this.#o;
    for (;;) {
      const entry = await store.get<LimiterState>(key);
      const state = readState(entry?.value);
      const until = Math.max(state.pausedUntil ?? 0, clock.now() + ms);
      const next: LimiterState = { sent: state.sent, pausedUntil: until };
      if (await store.compareAndSet(key, next, entry?.revision ?? 0)) return until;
    }
  }

  /** The stored state (for health and tests). */
  async state(): Promise<LimiterState> {
    return readState((await this.#o.store.get<LimiterState>(this.#o.key))?.value);
  }
}

/** Tolerates a missing or foreign value under the key (a store shared with an older version). */
function readState(value: unknown): LimiterState {
  if (typeof value !== 'object' || value === null) return { sent: [] };
  const v = value as Partial<LimiterState>;
  const sent = Array.isArray(v.sent) ? v.sent.filter((t): t is number => Number.isFinite(t)) : [];
  return typeof v.pausedUntil === 'number' && Number.isFinite(v.pausedUntil)
    ? { sent, pausedUntil: v.pausedUntil }
    : { sent };
}

function untilDone(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
