import { MemoryTransport } from '@switchyard/core';
import { DINGTALK_ERRORS, ManualClock } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { maxInWindow, type Rig, rig, runClockUntil } from './__fixtures__/harness.js';
import { RobotLimiter } from './limiter.js';

const rigs: Rig[] = [];
async function open(...args: Parameters<typeof rig>): Promise<Rig> {
  const r = await rig(...args);
  rigs.push(r);
  return r;
}
afterEach(async () => {
  for (const r of rigs.splice(0).reverse()) await r.close();
});

/** Starts sends without awaiting; `settled` counts finished ones, `errors` keeps failures. */
function burst(r: Rig, count: number, from = 0) {
  const state = { settled: 0, errors: [] as unknown[] };
  const all = Array.from({ length: count }, (_, i) =>
    r.host
      .invoke('dingtalk.send', { msgtype: 'text', text: `message ${from + i}` })
      .catch((error) => state.errors.push(error))
      .finally(() => state.settled++),
  );
  return { state, all };
}

describe('flow control', () => {
  it('delivers a burst of 100 in order over ~4 minutes, never more than 20 a minute, with no throttle', async () => {
    const r = await open();
    const start = r.clock.now();
    const { state } = burst(r, 100);
    await runClockUntil(r.clock, () => state.settled === 100);

    expect(state.errors).toEqual([]);
    expect(r.fake.rejections).toEqual([]);
    expect(r.fake.messages.map((m) => m.text)).toEqual(Array.from({ length: 100 }, (_, i) => `message ${i}`));
    const times = r.fake.messages.map((m) => m.at);
    expect(maxInWindow(times)).toBeLessThanOrEqual(20);
    const minutes = (times.at(-1)! - start) / 60_000;
    expect(minutes).toBeGreaterThanOrEqual(4);
    expect(minutes).toBeLessThan(5);
  });

  it('honours a lower ratePerMinute', async () => {
    const r = await open({ ratePerMinute: 5 }, { ratePerMinute: 5 });
    const { state } = burst(r, 12);
    await runClockUntil(r.clock, () => state.settled === 12);
    expect(state.errors).toEqual([]);
    expect(r.fake.rejections).toEqual([]);
    expect(maxInWindow(r.fake.messages.map((m) => m.at))).toBe(5);
  });

  it('keeps its window across a restart, so a restart loop cannot trip the throttle', async () => {
    const clock = new ManualClock();
    const store = new MemoryTransport({ clock }).kv('shared');
    const first = await open({}, {}, { clock, store });
    const a = burst(first, 20);
    await Promise.all(a.all);
    expect(first.fake.messages).toHaveLength(20);
    await first.host.close();

    // The runner restarts 5 s later with the same store and sends again at once.
    await clock.advance(5_000);
    const second = await open({}, {}, { clock, store, fake: first.fake });
    const b = burst(second, 3, 20);
    await runClockUntil(clock, () => b.state.settled === 3);
    expect(b.state.errors).toEqual([]);
    expect(first.fake.rejections).toEqual([]);
    expect(first.fake.messages).toHaveLength(23);
    expect(first.fake.messages[20]!.at - first.fake.messages[0]!.at).toBeGreaterThanOrEqual(60_000);
  });

  it('shares one robot between two runners using the same store', async () => {
    const clock = new ManualClock();
    const store = new MemoryTransport({ clock }).kv('shared');
    const one = await open({}, {}, { clock, store });
    const two = await open({}, {}, { clock, store, fake: one.fake });
    const a = burst(one, 25, 0);
    const b = burst(two, 25, 100);
    await runClockUntil(clock, () => a.state.settled + b.state.settled === 50);
    expect([...a.state.errors, ...b.state.errors]).toEqual([]);
    expect(one.fake.rejections).toEqual([]);
    expect(one.fake.messages).toHaveLength(50);
    expect(maxInWindow(one.fake.messages.map((m) => m.at))).toBeLessThanOrEqual(20);
    // Each runner's own messages stay in order.
    const order = (prefix: (n: number) => boolean) =>
      one.fake.messages.map((m) => Number(m.text.split(' ')[1])).filter(prefix);
    expect(order((n) => n < 100)).toEqual([...Array(25).keys()]);
    expect(order((n) => n >= 100)).toEqual([...Array(25).keys()].map((n) => n + 100));
  });

  it('pauses the robot for 10 minutes when DingTalk throttles it, for every runner, then sends again', async () => {
    const r = await open();
    r.fake.failNext(DINGTALK_ERRORS.sendTooFast);
    await expect(r.host.invoke('dingtalk.send', { text: 'one' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_THROTTLED',
      retryable: true,
      retryAfterMs: 600_000,
    });
    const requests = r.fake.server.requests.length;
    await r.clock.advance(9 * 60_000);
    const paused = r.host.invoke('dingtalk.send', { text: 'two' });
    await expect(paused).rejects.toMatchObject({
      code: 'SY_DINGTALK_PAUSED',
      retryable: true,
      retryAfterMs: 60_000,
    });
    expect(r.fake.server.requests.length).toBe(requests); // nothing reached DingTalk while paused

    await r.clock.advance(60_000);
    await expect(r.host.invoke('dingtalk.send', { text: 'three' })).resolves.toMatchObject({ parts: 1 });
    expect(r.fake.messages.map((m) => m.text)).toEqual(['three']);
  });

  it('treats 410100 like 130101', async () => {
    const r = await open();
    r.fake.failNext(DINGTALK_ERRORS.throttled);
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_THROTTLED',
      retryAfterMs: 600_000,
    });
  });

  it('stops waiting when the action is aborted, and the queue behind keeps its order', async () => {
    const r = await open({ ratePerMinute: 1 }, { ratePerMinute: 1 });
    await r.host.invoke('dingtalk.send', { text: 'first' });
    const controller = new AbortController();
    const aborted = r.host.invoke('dingtalk.send', { text: 'aborted' }, { signal: controller.signal });
    const next = r.host.invoke('dingtalk.send', { text: 'next' });
    await runClockUntil(r.clock, () => r.clock.pending > 0);
    controller.abort(new Error('shutting down'));
    await expect(aborted).rejects.toThrow('shutting down');
    let done = false;
    void next.finally(() => {
      done = true;
    });
    await runClockUntil(r.clock, () => done);
    await expect(next).resolves.toMatchObject({ parts: 1 });
    expect(r.fake.messages.map((m) => m.text)).toEqual(['first', 'next']);
  });
});

describe('RobotLimiter', () => {
  it('never gives the same slot to two writers (compare-and-set)', async () => {
    const clock = new ManualClock();
    const store = new MemoryTransport({ clock }).kv('x');
    const limiters = [1, 2, 3].map(
      () => new RobotLimiter({ store, clock, key: 'limiter:r', ratePerMinute: 4 }),
    );
    const signal = new AbortController().signal;
    const got: number[] = [];
    const all = limiters.flatMap((l) =>
      [0, 1].map(() => l.acquire(signal).then(() => got.push(clock.now()))),
    );
    await clock.advance(0);
    expect(got).toHaveLength(4);
    await clock.advance(61_000);
    await Promise.all(all);
    expect(got).toHaveLength(6);
    // The four older sends stay stored a window longer than they count.
    const { sent } = await limiters[0]!.state();
    expect(sent.filter((t) => t > clock.now() - 61_000)).toHaveLength(2);
    expect(sent).toHaveLength(6);
  });

  it('ignores a foreign value under its key', async () => {
    const clock = new ManualClock();
    const store = new MemoryTransport({ clock }).kv('x');
    await store.set('limiter:r', 'garbage');
    const limiter = new RobotLimiter({ store, clock, key: 'limiter:r', ratePerMinute: 1 });
    await limiter.acquire(new AbortController().signal);
    expect(await limiter.state()).toEqual({ sent: [clock.now()] });
  });
});
