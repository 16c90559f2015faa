import { type KeyValueStore, MemoryTransport } from '@switchyard/core';
import {
  createTestHost,
  FakeDingTalk,
  type FakeDingTalkOptions,
  ManualClock,
  type TestHost,
} from '@switchyard/testing';
import dingtalk from '../index.js';
import type { DingTalkOptionsInput } from '../options.js';

export const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
export const SECRET = 'SECf0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0';

export interface Rig {
  clock: ManualClock;
  fake: FakeDingTalk;
  host: TestHost;
  close(): Promise<void>;
}

/** A fake robot and a test host running the plugin against it, on one manual clock. */
export async function rig(
  options: Partial<DingTalkOptionsInput> = {},
  fakeOptions: Partial<FakeDingTalkOptions> = {},
  shared?: { clock?: ManualClock; fake?: FakeDingTalk; store?: KeyValueStore },
): Promise<Rig> {
  const clock = shared?.clock ?? new ManualClock();
  const fake =
    shared?.fake ?? (await new FakeDingTalk({ accessToken: TOKEN, clock, ...fakeOptions }).start());
  let transport: MemoryTransport | undefined;
  if (shared?.store) {
    // A runner whose plugin store is `store`: the same robot state across restarts and runners.
    transport = new MemoryTransport({ clock });
    const own = transport.kv.bind(transport);
    const store = shared.store;
    transport.kv = (namespace: string) => (namespace === 'plugin.dingtalk' ? store : own(namespace));
  }
  const host = await createTestHost({
    clock,
    ...(transport ? { transport } : {}),
    secrets: [TOKEN, SECRET],
    plugins: [{ plugin: dingtalk, options: { webhook: fake.webhook, ...options } }],
  });
  return {
    clock,
    fake,
    host,
    async close() {
      await host.close();
      if (!shared?.fake) await fake.stop();
    },
  };
}

/**
 * Runs the clock forward until `done()`: whenever every sender is asleep on the clock (no HTTP in
 * flight, since a robot's sends run one after another), jumps to the next timer.
 */
export async function runClockUntil(
  clock: ManualClock,
  done: () => boolean,
  limitMs = 3_600_000,
): Promise<void> {
  const start = clock.now();
  while (!done()) {
    const deadline = Date.now() + 5_000;
    while (!done() && clock.pending === 0) {
      if (Date.now() > deadline) throw new Error('nothing is waiting on the clock and the work is not done');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (done()) break;
    const next = clock.nextAt()!;
    if (next - start > limitMs) throw new Error(`not done within ${limitMs} ms of clock time`);
    await clock.set(next);
  }
}

/** Largest number of times within any `windowMs` (sorted input). */
export function maxInWindow(times: number[], windowMs = 60_000): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Every string a host wrote to its logs, for secret checks. */
export function logText(host: TestHost): string {
  return JSON.stringify(host.logs);
}
