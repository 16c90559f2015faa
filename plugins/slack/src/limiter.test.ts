// Several runners posting to one channel: each runner has its own ChannelLimiter, all of them on one
// KeyValueStore, as runners on one NATS store share a JetStream KV bucket. Deterministic: one
// ManualClock is the true time; a runner's clock may be skewed from it.
import { type Clock, MemoryTransport } from '@switchyard/core';
import { ManualClock, RacingStore, settle, skewedClock } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { ChannelLimiter } from './limiter.js';

const CHANNEL = 'C0000000001';

function shared() {
  const truth = new ManualClock();
  const store = new MemoryTransport({ clock: truth }).kv('plugin.slack');
  const runner = (clock: Clock = truth, logger?: Logger) =>
    new ChannelLimiter({ store, clock, intervalMs: 1_000, ...(logger ? { logger } : {}) });
  return { truth, store, runner };
}

type Logger = { warn(details: Record<string, unknown>, message: string): void };

/** Starts a send: resolves with the true time at which the limiter let it go. */
function send(limiter: ChannelLimiter, truth: ManualClock, channel = CHANNEL): Promise<number> {
  return limiter.acquire(channel).then(() => truth.now());
}

/** Moves the manual clock one step at a time until `promise` settles. */
async function drive<T>(truth: ManualClock, promise: Promise<T>, stepMs = 100, maxMs = 600_000): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  for (let t = 0; t < maxMs && !done; t += stepMs) {
    await settle(2);
    if (!done) await truth.advance(stepMs);
  }
  return watched;
}

describe('one channel, several runners, one store', () => {
  it('two runners sending at once are spaced a second apart together; other channels do not wait', async () => {
    const { truth, runner } = shared();
    const [a, b] = [runner(), runner()];
    const t0 = truth.now();
    const times = await drive(
      truth,
      Promise.all([0, 1, 2, 3, 4].flatMap(() => [send(a, truth), send(b, truth)])),
    );
    expect(times.sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => t0 + i * 1_000));
    await expect(send(a, truth, 'C0000000002')).resolves.toBe(truth.now());
  });

  it('two runners that read the same state race for one slot: one takes it, the other takes the next', async () => {
    const { truth, store } = shared();
    const racing = new RacingStore(store, 2);
    const [a, b] = [0, 1].map(() => new ChannelLimiter({ store: racing, clock: truth, intervalMs: 1_000 }));
    const t0 = truth.now();
    const times = await drive(truth, Promise.all([send(a!, truth), send(b!, truth)]));
    expect(racing.casFailures).toBe(1);
    expect(times.sort((x, y) => x - y)).toEqual([t0, t0 + 1_000]);
  });

  it('a 429 answered to one runner holds back the other, even a sender already waiting for its slot', async () => {
    const { truth, runner } = shared();
    const [a, b] = [runner(), runner()];
    const t0 = truth.now();
    expect(await send(a, truth)).toBe(t0); // a's request goes out…
    const waiting = send(b, truth); // …b reserves the slot one second later and waits for it
    await settle();
    await a.pushBack(CHANNEL, 5_000); // …Slack answers a's request 429, Retry-After: 5
    const later = send(a, truth); // a's retry, and anything else, waits for the block too
    const times = await drive(truth, Promise.all([waiting, later]));
    expect(Math.min(...times)).toBe(t0 + 5_000);
    expect(times.sort((x, y) => x - y)).toEqual([t0 + 5_000, t0 + 6_000]);
  });

  it('a block longer than maxWaitMs is handed back as a retry after it', async () => {
    const { truth, runner } = shared();
    await runner().pushBack(CHANNEL, 30_000);
    await expect(runner().acquire(CHANNEL)).rejects.toMatchObject({
      code: 'SY_SLACK_RATE_LIMITED',
      retryable: true,
      retryAfterMs: 30_000,
    });
    await truth.advance(30_000);
    await expect(send(runner(), truth)).resolves.toBe(truth.now());
  });

  it('a runner that dies holding a slot costs the channel one interval', async () => {
    const { truth, runner } = shared();
    const t0 = truth.now();
    const dying = runner();
    await send(dying, truth);
    const controller = new AbortController();
    const held = dying.acquire(CHANNEL, controller.signal); // reserved t0 + 1 s, then the runner died
    held.catch(() => undefined);
    await settle();
    controller.abort(new Error('SIGKILL'));
    await expect(drive(truth, send(runner(), truth))).resolves.toBe(t0 + 2_000);
  });

  it('holds its spacing with clocks a few milliseconds apart', async () => {
    const { truth, runner } = shared();
    const [a, b] = [runner(skewedClock(truth, 30)), runner(skewedClock(truth, -30))];
    const times = await drive(
      truth,
      Promise.all([0, 1, 2, 3].flatMap(() => [send(a, truth), send(b, truth)])),
      10,
    );
    const sorted = times.sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(940);
  });

  it('a runner whose clock is an hour ahead does not stall the others for an hour, and is reported', async () => {
    const { truth, runner } = shared();
    const warnings: Array<{ details: Record<string, unknown>; message: string }> = [];
    const logger = {
      warn: (details: Record<string, unknown>, message: string) => warnings.push({ details, message }),
    };
    const t0 = truth.now();
    await send(runner(skewedClock(truth, 3_600_000)), truth);
    await runner(skewedClock(truth, 3_600_000)).pushBack(CHANNEL, 3_000);
    const onTime = runner(truth, logger);
    // The block is taken as set when first read: 3 s from now, not an hour and 3 s.
    await expect(drive(truth, send(onTime, truth))).resolves.toBe(t0 + 3_000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.details).toMatchObject({ channel: CHANNEL });
    expect(warnings[0]!.message).toMatch(/clock at least 3600 s ahead.*NTP/);
  });

  it('ignores a foreign value under its key', async () => {
    const { truth, store, runner } = shared();
    await store.set(`rate:${CHANNEL}`, 'garbage');
    await expect(send(runner(), truth)).resolves.toBe(truth.now());
    expect((await store.get<{ next: number }>(`rate:${CHANNEL}`))?.value.next).toBe(truth.now() + 1_000);
  });
});
