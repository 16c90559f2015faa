import { type Clock, type KeyValueStore, RetryableError } from '@switchyard/core';
import { DingTalkErrorCodes } from './errors.js';
import { THROTTLE_PAUSE_MS } from './responses.js';

/**
 * Limiter state of one robot, stored under one key and changed only by compare-and-set. Every time
 * in it is a reading of the clock of the runner that wrote it.
 */
export interface LimiterState {
  /** When the last messages were sent (epoch ms), kept a window longer than they count. */
  sent: number[];
  /** The robot said "throttled": nobody sends before this time (epoch ms). */
  pausedUntil?: number;
  /** When the pause was set, on the same clock as pausedUntil. */
  pausedAt?: number;
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
   * Added to the window so a message that took a moment to reach DingTalk, or a runner whose clock
   * is a little behind, never lands inside the previous window there.
   */
  marginMs?: number;
  /** Longest pause a runner sets (DingTalk's throttle): a longer one read from the store is a clock error. */
  maxPauseMs?: number;
  /** Told when another runner's clock is found ahead of this one's by more than the margin. */
  logger?: { warn(details: Record<string, unknown>, message: string): void };
}

/** How often the same limiter repeats its warning about another runner's clock. */
const SKEW_WARNING_EVERY_MS = 5 * 60_000;

/**
 * Flow control for one robot: at most `ratePerMinute` sends in any window, a pause after DingTalk
 * throttles, and FIFO order for the sends of this process. The state lives in the plugin store, so
 * it survives restarts and is shared by every runner using the same store; writes are
 * compare-and-set, so two runners never both take the last slot.
 *
 * Times in the store come from the clocks of several runners. A runner whose clock is behind the
 * others' by more than the margin can still overshoot: keep the runners' clocks in sync (NTP). What
 * this class does about skew: entries stay stored a whole window longer than they count, so a
 * runner whose clock is ahead cannot drop entries the others still count; and a time read from the
 * store that lies in this runner's future is taken as no later than when it was first read (the
 * write happened before the read), so a runner whose clock is far ahead cannot stall the others
 * for the length of its lead. That case goes to `logger` when one is given: it is also the one that
 * lets the runner that is ahead overshoot.
 */
export class RobotLimiter {
  readonly #o: Required<Omit<RobotLimiterOptions, 'logger'>> & Pick<RobotLimiterOptions, 'logger'>;
  #tail: Promise<void> = Promise.resolve();
  /** Local time at which store times that were in this runner's future were first read. */
  readonly #firstSeen = new Map<number, number>();
  #warnedAt = Number.NEGATIVE_INFINITY;

  constructor(options: RobotLimiterOptions) {
    this.#o = { windowMs: 60_000, marginMs: 1_000, maxPauseMs: THROTTLE_PAUSE_MS, ...options };
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
      const view = this.#view(state, now);
      if (view.pausedUntil > now) {
        const wait = view.pausedUntil - now;
        throw new RetryableError(
          DingTalkErrorCodes.PAUSED,
          `the DingTalk robot is paused for another ${Math.ceil(wait / 1000)} s after DingTalk throttled it (20 messages a minute); the message is sent after the pause`,
          { retryAfterMs: wait, details: { robot: key } },
        );
      }
      const recent = view.sent.filter((t) => t > now - span).sort((a, b) => a - b);
      if (recent.length >= rate) {
        // Wait until enough old sends leave the window for one more.
        const wait = recent[recent.length - rate]! + span - now;
        await clock.sleep(Math.max(1, wait), signal);
        continue;
      }
      // Stored times are kept as their writers wrote them, a window past the point they stop counting.
      const kept = state.sent.filter((t) => t > now - span - this.#o.windowMs);
      const next: LimiterState = { sent: [...kept, now] };
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
      const now = clock.now();
      const until = Math.max(this.#view(state, now).pausedUntil, now + ms);
      const next: LimiterState = { sent: state.sent, pausedUntil: until, pausedAt: now };
      if (await store.compareAndSet(key, next, entry?.revision ?? 0)) return until;
    }
  }

  /** The stored state (for health and tests). */
  async state(): Promise<LimiterState> {
    return readState((await this.#o.store.get<LimiterState>(this.#o.key))?.value);
  }

  /** The state in this runner's time: store times from its future are moved back to when first read. */
  #view(state: LimiterState, now: number): { sent: number[]; pausedUntil: number } {
    const readings = [...state.sent];
    if (state.pausedAt !== undefined) readings.push(state.pausedAt);
    for (const t of this.#firstSeen.keys()) if (!readings.includes(t)) this.#firstSeen.delete(t);
    let ahead = 0;
    const local = (t: number): number => {
      let seen = this.#firstSeen.get(t);
      if (seen === undefined) {
        if (t <= now) return t;
        seen = now;
        this.#firstSeen.set(t, now);
        ahead = Math.max(ahead, t - now);
      }
      return Math.min(t, seen);
    };
    const sent = state.sent.map(local);
    let pausedUntil = 0;
    if (state.pausedUntil !== undefined) {
      pausedUntil =
        state.pausedAt === undefined
          ? state.pausedUntil
          : local(state.pausedAt) + Math.min(state.pausedUntil - state.pausedAt, this.#o.maxPauseMs);
    }
    if (ahead > this.#o.marginMs) this.#warnSkew(ahead, now);
    return { sent, pausedUntil };
  }

  #warnSkew(aheadMs: number, now: number): void {
    if (now - this.#warnedAt < SKEW_WARNING_EVERY_MS) return;
    this.#warnedAt = now;
    this.#o.logger?.warn(
      { robot: this.#o.key, aheadMs },
      `another runner sharing this DingTalk robot has a clock at least ${Math.ceil(aheadMs / 1000)} s ahead of this runner's; the robot's rate limit holds across runners only while their clocks agree within ${this.#o.marginMs} ms: sync them (NTP)`,
    );
  }
}

/** Tolerates a missing or foreign value under the key (a store shared with an older version). */
function readState(value: unknown): LimiterState {
  if (typeof value !== 'object' || value === null) return { sent: [] };
  const v = value as Partial<LimiterState>;
  const sent = Array.isArray(v.sent) ? v.sent.filter((t): t is number => Number.isFinite(t)) : [];
  if (!Number.isFinite(v.pausedUntil)) return { sent };
  return Number.isFinite(v.pausedAt)
    ? { sent, pausedUntil: v.pausedUntil!, pausedAt: v.pausedAt! }
    : { sent, pausedUntil: v.pausedUntil! };
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
