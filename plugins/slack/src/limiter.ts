import type { Clock, KeyValueStore } from '@switchyard/core';
import { retryable, SlackErrorCodes } from './errors.js';

interface Slot {
  /** Earliest time (epoch ms) the next message to this channel may go out. */
  next: number;
}

export interface ChannelLimiterOptions {
  store: KeyValueStore;
  clock: Clock;
  /** Least time between two messages to one channel. */
  intervalMs: number;
  /** A wait longer than this is handed back to the bus as a retry instead of holding a delivery open. */
  maxWaitMs?: number;
}

/**
 * ~1 message per second per channel, shared by every runner: each sender reserves the next free
 * slot of the channel in the plugin store with compare-and-set, then waits for it on ctx.clock.
 */
export class ChannelLimiter {
  readonly #maxWaitMs: number;

  constructor(private readonly options: ChannelLimiterOptions) {
    this.#maxWaitMs = options.maxWaitMs ?? 15_000;
  }

  async acquire(channel: string, signal?: AbortSignal): Promise<void> {
    const { store, clock, intervalMs } = this.options;
    if (intervalMs <= 0) return;
    const key = keyOf(channel);
    for (let attempt = 0; attempt < 100; attempt++) {
      const now = clock.now();
      const entry = await store.get<Slot>(key);
      const slot = Math.max(now, entry?.value.next ?? 0);
      const wait = slot - now;
      if (wait > this.#maxWaitMs) {
        throw retryable(
          SlackErrorCodes.RATE_LIMITED,
          `too many messages queued for channel "${channel}" (next free slot in ${Math.ceil(wait / 1000)} s); will retry then`,
          { retryAfterMs: wait, details: { channel } },
        );
      }
      const won = await store.compareAndSet<Slot>(key, { next: slot + intervalMs }, entry?.revision ?? 0);
      if (won === undefined) continue; // another sender took this slot; look again
      if (wait > 0) await clock.sleep(wait, signal);
      return;
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
    const until = clock.now() + retryAfterMs;
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await store.get<Slot>(key);
      if ((entry?.value.next ?? 0) >= until) return;
      if ((await store.compareAndSet<Slot>(key, { next: until }, entry?.revision ?? 0)) !== undefined) return;
    }
  }
}

function keyOf(channel: string): string {
  return `rate:${channel}`;
}
