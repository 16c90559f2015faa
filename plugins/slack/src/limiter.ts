import type { Clock, KeyValueStore } from '@switchyard/core';
import { retryable, SlackErrorCodes } from './errors.js';

/**
 * Flow-control state of one channel, changed only by compare-and-set. Its times are readings of the
 * clock of the runner that wrote them; `at` and `blockedAt` say when, on that clock.
 */
interface Slot {
  /** Earliest time (epoch ms) the next message to this channel may go out. */
  next: number;
  /** When `next` was written. */
  at?: number;
  /** Slack answered 429: nobody sends to the channel before this time (Retry-After). */
  blockedUntil?: number;
  /** When the block was written. */
  blockedAt?: number;
}

/** The slot in this runner's time. */
interface View {
  next: number;
  blockedUntil: number;
}

export interface ChannelLimiterOptions {
  store: KeyValueStore;
  clock: Clock;
  /** Least time between two messages to one channel. */
  intervalMs: number;
  /** A wait longer than this is handed back to the bus as a retry instead of holding a delivery open. */
  maxWaitMs?: number;
  /** Told when another runner's clock is found ahead of this one's by more than a second. */
  logger?: { warn(details: Record<string, unknown>, message: string): void };
}

/** Clock differences up to this are ordinary; beyond it they are reported. */
const SKEW_TOLERANCE_MS = 1_000;
/** How often the same limiter repeats its warning about another runner's clock. */
const SKEW_WARNING_EVERY_MS = 5 * 60_000;

/**
 * ~1 message per second per channel, shared by every runner: each sender reserves the next free
 * slot of the channel in the plugin store with compare-and-set, then waits for it on ctx.clock. A
 * 429 blocks the channel until Retry-After for every runner, including senders already waiting for
 * a slot inside the block: they take a new one after it.
 *
 * The spacing between runners is as good as the agreement of their clocks (keep them in sync with
 * NTP). A time read from the store that lies in this runner's future is taken as written no later
 * than when it was first read, so a runner whose clock is far ahead cannot stall the others for the
 * length of its lead; that goes to `logger` when one is given.
 */
export class ChannelLimiter {
  readonly #maxWaitMs: number;
  /** Per channel: local time at which store times that were in this runner's future were first read. */
  readonly #firstSeen = new Map<string, Map<number, number>>();
  #warnedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: ChannelLimiterOptions) {
    this.#maxWaitMs = options.maxWaitMs ?? 15_000;
  }

  async acquire(channel: string, signal?: AbortSignal): Promise<void> {
    const { store, clock, intervalMs } = this.options;
    if (intervalMs <= 0) return;
    const key = keyOf(channel);
    for (let attempt = 0; attempt < 100; attempt++) {
      const entry = await store.get<Slot>(key);
      const now = clock.now();
      const stored = readSlot(entry?.value);
      const view = this.#view(channel, stored, now);
      const slot = Math.max(now, view.next, view.blockedUntil);
      const wait = slot - now;
      if (wait > this.#maxWaitMs) {
        throw retryable(
          SlackErrorCodes.RATE_LIMITED,
          `too many messages queued for channel "${channel}" (next free slot in ${Math.ceil(wait / 1000)} s); will retry then`,
          { retryAfterMs: wait, details: { channel } },
        );
      }
      const next: Slot = { next: slot + intervalMs, at: now, ...activeBlock(stored, view, now) };
      const won = await store.compareAndSet<Slot>(key, next, entry?.revision ?? 0);
      if (won === undefined) continue; // another sender took this slot; look again
      if (wait <= 0) return;
      await clock.sleep(wait, signal);
      // A 429 answered while this sender waited (to any runner) voids a slot inside Retry-After.
      const after = this.#view(channel, readSlot((await store.get<Slot>(key))?.value), clock.now());
      if (after.blockedUntil <= slot) return;
    }
    throw retryable(
      SlackErrorCodes.STORE_CONTENDED,
      `could not reserve a send slot for channel "${channel}"; will retry`,
    );
  }

  /** After a 429: nobody sends to the channel before Retry-After has passed. */
  async pushBack(channel: string, retryAfterMs: number): Promise<void> {
    const { store, clock } = this.options;
    const key = keyOf(channel);
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await store.get<Slot>(key);
      const now = clock.now();
      const stored = readSlot(entry?.value);
      const view = this.#view(channel, stored, now);
      const until = now + retryAfterMs;
      if (view.blockedUntil >= until) return;
      const next: Slot = { next: Math.max(view.next, until), at: now, blockedUntil: until, blockedAt: now };
      if ((await store.compareAndSet<Slot>(key, next, entry?.revision ?? 0)) !== undefined) return;
    }
  }

  /** The slot in this runner's time: a write from this runner's future is moved back to when first read. */
  #view(channel: string, slot: Slot | undefined, now: number): View {
    if (!slot) {
      this.#firstSeen.delete(channel);
      return { next: 0, blockedUntil: 0 };
    }
    let seen = this.#firstSeen.get(channel);
    if (!seen) {
      seen = new Map();
      this.#firstSeen.set(channel, seen);
    }
    const readings = [slot.at, slot.blockedAt];
    for (const t of seen.keys()) if (!readings.includes(t)) seen.delete(t);
    let ahead = 0;
    const local = (t: number): number => {
      let first = seen.get(t);
      if (first === undefined) {
        if (t <= now) return t;
        first = now;
        seen.set(t, now);
        ahead = Math.max(ahead, t - now);
      }
      return Math.min(t, first);
    };
    const next = slot.at === undefined ? slot.next : local(slot.at) + (slot.next - slot.at);
    let blockedUntil = 0;
    if (slot.blockedUntil !== undefined) {
      blockedUntil =
        slot.blockedAt === undefined
          ? slot.blockedUntil
          : local(slot.blockedAt) + (slot.blockedUntil - slot.blockedAt);
    }
    if (ahead > SKEW_TOLERANCE_MS) this.#warnSkew(channel, ahead, now);
    return { next, blockedUntil };
  }

  #warnSkew(channel: string, aheadMs: number, now: number): void {
    if (now - this.#warnedAt < SKEW_WARNING_EVERY_MS) return;
    this.#warnedAt = now;
    this.options.logger?.warn(
      { channel, aheadMs },
      `another runner posting to Slack channel "${channel}" has a clock at least ${Math.ceil(aheadMs / 1000)} s ahead of this runner's; spacing messages across runners needs their clocks in sync: sync them (NTP)`,
    );
  }
}

/** The stored block, kept as written while it still holds in this runner's time. */
function activeBlock(stored: Slot | undefined, view: View, now: number): Partial<Slot> {
  if (!stored || stored.blockedUntil === undefined || view.blockedUntil <= now) return {};
  return stored.blockedAt === undefined
    ? { blockedUntil: stored.blockedUntil }
    : { blockedUntil: stored.blockedUntil, blockedAt: stored.blockedAt };
}

/** Tolerates a missing or foreign value under the key (a store shared with an older version). */
function readSlot(value: unknown): Slot | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<Record<keyof Slot, unknown>>;
  if (typeof v.next !== 'number' || !Number.isFinite(v.next)) return undefined;
  const slot: Slot = { next: v.next };
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  if (num(v.at)) slot.at = v.at;
  if (num(v.blockedUntil)) {
    slot.blockedUntil = v.blockedUntil;
    if (num(v.blockedAt)) slot.blockedAt = v.blockedAt;
  }
  return slot;
}

function keyOf(channel: string): string {
  return `rate:${channel}`;
}
