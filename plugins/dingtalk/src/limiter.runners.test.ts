// Several runners sharing one robot: each runner has its own RobotLimiter (or its own plugin host),
// all of them on one KeyValueStore, as runners on one NATS store share a JetStream KV bucket.
// Deterministic: one ManualClock is the true time; a runner's clock may be skewed from it.
import { type Clock, type KeyValueStore, MemoryTransport } from '@switchyard/core';
import { DINGTALK_ERRORS, ManualClock, RacingStore, skewedClock } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { maxInWindow, type Rig, rig, runClockUntil } from './__fixtures__/harness.js';
import { RobotLimiter } from './limiter.js';

const KEY = 'limiter:robot';
const signal = new AbortController().signal;

function limiter(store: KeyValueStore, clock: Clock, extra: { logger?: Logger } = {}): RobotLimiter {
  return new RobotLimiter({ store, clock, key: KEY, ratePerMinute: 20, ...extra });
}

type Logger = { warn(details: Record<string, unknown>, message: string): void };
function recorder() {
  const warnings: Array<{ details: Record<string, unknown>; message: string }> = [];
  return {
    warnings,
    logger: {
      warn: (details: Record<string, unknown>, message: string) => warnings.push({ details, message }),
    },
  };
}

/** Starts `count` sends through `l` one after another; true send times land in `times`. */
function sender(l: RobotLimiter, truth: ManualClock, count: number, times: number[]) {
  let done = 0;
  const finished = (async () => {
    for (let i = 0; i < count; i++) {
      await l.acquire(signal);
      times.push(truth.now());
      done++;
    }
  })();
  return { finished, done: () => done };
}

describe('one robot, several runners, one store', () => {
  it('two runners that read the same state race for the last slot: one takes it, the other waits for the window', async () => {
    const truth = new ManualClock();
    const inner = new MemoryTransport({ clock: truth }).kv('plugin.dingtalk');
    const t0 = truth.now();
    const first = limiter(inner, truth);
    for (let i = 0; i < 19; i++) await first.acquire(signal);

    const racing = new RacingStore(inner, 2);
    const [a, b] = [limiter(racing, truth), limiter(racing, truth)];
    const got: string[] = [];
    const both = [a.acquire(signal).then(() => got.push('a')), b.acquire(signal).then(() => got.push('b'))];
    await truth.advance(0);

    expect(racing.casFailures).toBe(1); // both decided on the same revision; the store refused one
    expect(got).toHaveLength(1); // exactly one took the 20th slot
    expect((await a.state()).sent).toHaveLength(20);
    expect(truth.pending).toBe(1); // the other re-read, found the window full and sleeps

    await truth.advance(60_999);
    expect(got).toHaveLength(1);
    await truth.advance(1);
    await Promise.all(both);
    expect(got).toHaveLength(2);
    expect(truth.now() - t0).toBe(61_000);
  });

  it('many runners contending on every slot never exceed 20 a minute together', async () => {
    const truth = new ManualClock();
    const store = new MemoryTransport({ clock: truth }).kv('plugin.dingtalk');
    const times: number[] = [];
    const senders = [0, 1, 2, 3].map(() => sender(limiter(store, truth), truth, 15, times));
    await runClockUntil(truth, () => senders.every((s) => s.done() === 15));
    await Promise.all(senders.map((s) => s.finished));
    expect(times).toHaveLength(60);
    expect(maxInWindow(times, 60_000)).toBe(20);
    // Three full windows: 20 at once, 20 a window (plus margin) later, 20 after that.
    expect(times.at(-1)! - times[0]!).toBe(2 * 61_000);
  });

  it('a runner that dies holding slots costs the others nothing beyond the window those slots are in', async () => {
    const truth = new ManualClock();
    const store = new MemoryTransport({ clock: truth }).kv('plugin.dingtalk');
    const t0 = truth.now();
    const dying = limiter(store, truth);
    for (let i = 0; i < 20; i++) await dying.acquire(signal); // took every slot, then was SIGKILLed
    const times: number[] = [];
    const survivor = sender(limiter(store, truth), truth, 1, times);
    await runClockUntil(truth, () => survivor.done() === 1);
    expect(times).toEqual([t0 + 61_000]);
  });

  it('holds with clocks up to the margin apart', async () => {
    const truth = new ManualClock();
    const store = new MemoryTransport({ clock: truth }).kv('plugin.dingtalk');
    const times: number[] = [];
    const senders = [-450, 450].map((offset) =>
      sender(limiter(store, skewedClock(truth, offset)), truth, 30, times),
    );
    await runClockUntil(truth, () => senders.every((s) => s.done() === 30));
    expect(
      maxInWindow(
        times.sort((x, y) => x - y),
        60_000,
      ),
    ).toBeLessThanOrEqual(20);
  });

  it('a runner whose clock is ahead cannot make the others forget their sends', async () => {
    const truth = new ManualClock();
    const store = new MemoryTransport({ clock: truth }).kv('plugin.dingtalk');
    const t0 = truth.now();
    const onTime = limiter(store, truth);
    for (let i = 0; i < 20; i++) await onTime.acquire(signal);
    // 52 s later a runner 10 s ahead sees those sends as 62 s old and takes a slot (its clock is
    // wrong, it overshoots); its write must not drop the 20 sends that still count for the others.
    await truth.advance(52_000);
    await limiter(store, skewedClock(truth, 10_000)).acquire(signal);
    expect((await onTime.state()).sent).toHaveLength(21);

    const times: number[] = [];
    const next = sender(onTime, truth, 1, times);
    await runClockUntil(truth, () => next.done() === 1);
    expect(times[0]! - t0).toBeGreaterThanOrEqual(61_000);
  });

  it('a runner whose clock is an hour ahead does not stall the others for an hour, and is reported', async () => {
    const truth = new ManualClock();
    const store = new MemoryTransport({ clock: truth }).kv('plugin.dingtalk');
    const ahead = limiter(store, skewedClock(truth, 3_600_000));
    for (let i = 0; i < 20; i++) await ahead.acquire(signal);
    await truth.advance(1_000);
    const seenAt = truth.now();
    const { warnings, logger } = recorder();
    const times: number[] = [];
    const onTime = sender(limiter(store, truth, { logger }), truth, 1, times);
    await runClockUntil(truth, () => onTime.done() === 1, 120_000);
    // Its 20 sends are taken as made when this runner first read them: it waits one window from then.
    expect(times).toEqual([seenAt + 61_000]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.details).toMatchObject({ robot: KEY });
    expect(warnings[0]!.details.aheadMs).toBeGreaterThanOrEqual(3_599_000);
    expect(warnings[0]!.message).toMatch(/clock at least 3599 s ahead.*NTP/);
  });
});

describe('a throttle answered to one runner', () => {
  const rigs: Rig[] = [];
  afterEach(async () => {
    for (const r of rigs.splice(0).reverse()) await r.close();
  });

  it('pauses every runner of the robot for 10 minutes; nothing reaches DingTalk meanwhile', async () => {
    const clock = new ManualClock();
    const store = new MemoryTransport({ clock }).kv('shared');
    const one = await rig({}, {}, { clock, store });
    rigs.push(one);
    const two = await rig({}, {}, { clock, store, fake: one.fake });
    rigs.push(two);
    one.fake.failNext(DINGTALK_ERRORS.sendTooFast);
    await expect(one.host.invoke('dingtalk.send', { text: 'one' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_THROTTLED',
      retryAfterMs: 600_000,
    });
    const requests = one.fake.server.requests.length;

    await clock.advance(60_000);
    await expect(two.host.invoke('dingtalk.send', { text: 'two' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_PAUSED',
      retryable: true,
      retryAfterMs: 540_000,
    });
    expect(one.fake.server.requests.length).toBe(requests);

    await clock.advance(540_000);
    await expect(two.host.invoke('dingtalk.send', { text: 'three' })).resolves.toMatchObject({ parts: 1 });
    expect(one.fake.messages.map((m) => m.text)).toEqual(['three']);
  });

  it('set by a runner whose clock is an hour ahead, lasts 10 minutes for the others, not 70', async () => {
    const truth = new ManualClock();
    const store = new MemoryTransport({ clock: truth }).kv('plugin.dingtalk');
    await limiter(store, skewedClock(truth, 3_600_000)).pause(600_000);
    const onTime = limiter(store, truth);
    await expect(onTime.acquire(signal)).rejects.toMatchObject({
      code: 'SY_DINGTALK_PAUSED',
      retryAfterMs: 600_000,
    });
    await truth.advance(599_999);
    await expect(onTime.acquire(signal)).rejects.toMatchObject({ retryAfterMs: 1 });
    await truth.advance(1);
    await expect(onTime.acquire(signal)).resolves.toBeUndefined();
  });
});
