import type { Clock, KeyValueStore } from '@switchyard/core';
import { retryable, SlackErrorCodes } from './errors.js';

type ThreadEntry = { ts: string } | { opening: number };

export interface ThreadsOptions {
  store: KeyValueStore;
  clock: Clock;
  /** How often a sender waiting for another to open the thread looks again. */
  pollMs?: number;
  /** An "opening" claim older than this is taken over (its sender died mid-way). */
  staleMs?: number;
  /** Longest a sender waits for another to open the thread before handing back to the bus. */
  maxWaitMs?: number;
}

/**
 * One thread per event chain and channel: the first message of a correlation id becomes the thread's
 * root (its ts stored in the plugin store), every later one replies to it. The first sender claims
 * the key with compare-and-set, so two concurrent first messages never open two threads: the loser
 * waits for the winner's ts.
 */
export class Threads {
  readonly #pollMs: number;
  readonly #staleMs: number;
  readonly #maxWaitMs: number;

  constructor(private readonly options: ThreadsOptions) {
    this.#pollMs = options.pollMs ?? 250;
    this.#staleMs = options.staleMs ?? 60_000;
    this.#maxWaitMs = options.maxWaitMs ?? 20_000;
  }

  /**
   * Runs `send` as the root (threadTs undefined) or as a reply (threadTs = the root's ts).
   * `send` returns the ts of what it posted.
   */
  async post<R extends { ts: string }>(
    channel: string,
    correlationId: string,
    send: (threadTs: string | undefined) => Promise<R>,
    signal?: AbortSignal,
  ): Promise<R & { threadTs: string | undefined }> {
    const { store, clock } = this.options;
    const key = `thread:${channel}:${correlationId}`;
    const started = clock.now();
    for (;;) {
      const entry = await store.get<ThreadEntry>(key);
      if (entry && 'ts' in entry.value) {
        const result = await send(entry.value.ts);
        return { ...result, threadTs: entry.value.ts };
      }
      const now = clock.now();
      const stale =
        entry !== undefined && 'opening' in entry.value && now - entry.value.opening > this.#staleMs;
      if (!entry || stale) {
        const claimed = await store.compareAndSet<ThreadEntry>(key, { opening: now }, entry?.revision ?? 0);
        if (claimed !== undefined) {
          let result: R;
          try {
            result = await send(undefined);
          } catch (error) {
            // Let the next sender open the thread.
            const mine = await store.get<ThreadEntry>(key);
            if (mine?.revision === claimed) await store.delete(key);
            throw error;
          }
          await store.set<ThreadEntry>(key, { ts: result.ts });
          return { ...result, threadTs: undefined };
        }
        continue;
      }
      if (now - started >= this.#maxWaitMs) {
        throw retryable(
          SlackErrorCodes.THREAD_PENDING,
          `another sender is still opening the thread of chain ${correlationId} in channel "${channel}"; will retry`,
          { retryAfterMs: this.#pollMs * 4, details: { channel, correlationId } },
        );
      }
      await clock.sleep(this.#pollMs, signal);
    }
  }

  async rootOf(channel: string, correlationId: string): Promise<string | undefined> {
    const entry = await this.options.store.get<ThreadEntry>(`thread:${channel}:${correlationId}`);
    return entry && 'ts' in entry.value ? entry.value.ts : undefined;
  }
}
