// Tools for testing state that several runners share through the transport's KeyValueStore (rate
// limiters, leases): a runner whose clock is off, and a store that makes runners race.
import type { Clock, KeyValueStore, KvEntry } from '@switchyard/core';
import type { ManualClock } from './clock.js';

/**
 * A runner's clock: `truth`'s time plus a fixed error (`offsetMs`, negative for a clock behind).
 * Timers and sleeps run on the true time, as they do on a real machine whose wall clock is off.
 */
export function skewedClock(truth: ManualClock, offsetMs: number): Clock {
  return {
    now: () => truth.now() + offsetMs,
    setTimer: (fn, ms) => truth.setTimer(fn, ms),
    sleep: (ms, signal) => truth.sleep(ms, signal),
  };
}

/**
 * Wraps a KeyValueStore so that its next `racers` reads wait for one another: those runners all read
 * the same revision and race their compare-and-set, as runners do when they decide at the same
 * moment. `casFailures` counts the compare-and-sets that lost.
 */
export class RacingStore implements KeyValueStore {
  casFailures = 0;
  #waiting: Array<() => void> = [];

  constructor(
    private readonly inner: KeyValueStore,
    private racers: number,
  ) {}

  async get<T>(key: string): Promise<KvEntry<T> | undefined> {
    if (this.racers > 1) {
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        if (this.#waiting.length === this.racers) {
          this.racers = 0;
          for (const go of this.#waiting.splice(0)) go();
        }
      });
    }
    return this.inner.get<T>(key);
  }

  async compareAndSet<T>(key: string, value: T, expectedRevision: number): Promise<number | undefined> {
    const revision = await this.inner.compareAndSet(key, value, expectedRevision);
    if (revision === undefined) this.casFailures++;
    return revision;
  }

  set<T>(key: string, value: T): Promise<number> {
    return this.inner.set(key, value);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  keys(prefix?: string): Promise<string[]> {
    return this.inner.keys(prefix);
  }
}
