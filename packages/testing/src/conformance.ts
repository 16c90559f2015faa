import {
  Bus,
  builtinEvents,
  defineEvent,
  EventRegistry,
  PermanentError,
  RetryableError,
  type SwitchyardEvent,
  type Transport,
} from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

export interface ConformanceSubject {
  transport: Transport;
  /** Called after the test, after the transport was closed. */
  cleanup?: () => Promise<void> | void;
}

export interface ConformanceOptions {
  /** Scale for waits, for transports whose redelivery has a floor (NATS). Default 1. */
  timeScale?: number;
}

const Ping = defineEvent('ConformancePing', z.object({ n: z.number().int() }));

const fast = { initialMs: 20, maxMs: 200, factor: 2, jitter: 0 };

/**
 * The behaviour every transport must show, as a vitest suite. Each transport package runs it
 * unchanged: `transportConformance('sqlite', async () => ({ transport: new SqliteTransport(...) }))`.
 */
export function transportConformance(
  name: string,
  create: () => Promise<ConformanceSubject>,
  options: ConformanceOptions = {},
): void {
  const scale = options.timeScale ?? 1;
  describe(`transport conformance: ${name}`, () => {
    const open: Array<{ bus: Bus; subject: ConformanceSubject }> = [];

    async function setup(): Promise<{ bus: Bus; transport: Transport }> {
      const subject = await create();
      await subject.transport.open();
      const registry = new EventRegistry();
      for (const def of builtinEvents) registry.register(def);
      registry.register(Ping);
      const bus = new Bus({ transport: subject.transport, registry });
      open.push({ bus, subject });
      return { bus, transport: subject.transport };
    }

    afterEach(async () => {
      for (const { bus, subject } of open.splice(0)) {
        await bus.stop({ deadlineMs: 500 });
        await subject.transport.close({ deadlineMs: 500 });
        await subject.cleanup?.();
      }
    });

    const ping = (bus: Bus, n: number, extra: Parameters<Bus['publish']>[2] = {}) =>
      bus.publish('ConformancePing', { n }, extra);

    it('appends durably and reads back by id', async () => {
      const { bus, transport } = await setup();
      const { event, duplicate } = await ping(bus, 1, { subject: 'S-1' });
      expect(duplicate).toBe(false);
      const read = await transport.get(event.id);
      expect(read).toEqual(event);
      expect(await transport.get('00000000-0000-7000-8000-000000000000')).toBeUndefined();
    });

    it('delivers in publish order to a subscription with concurrency 1', async () => {
      const { bus } = await setup();
      const seen: number[] = [];
      const done = deferred();
      await bus.subscribe({
        id: 'order',
        types: ['ConformancePing'],
        handler: (e) => {
          seen.push((e.data as { n: number }).n);
          if (seen.length === 50) done.resolve();
        },
      });
      for (let i = 0; i < 50; i++) await ping(bus, i);
      await within(done.promise, 5_000 * scale, () => `saw ${seen.length} of 50`);
      expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });

    it('delivers only the subscribed types, and "*" receives all', async () => {
      const { bus } = await setup();
      const typed: string[] = [];
      const all: string[] = [];
      const done = deferred();
      await bus.subscribe({
        id: 'typed',
        types: ['ConformancePing'],
        handler: (e) => void typed.push(e.type),
      });
      await bus.subscribe({
        id: 'all',
        types: ['*'],
        handler: (e) => {
          all.push(e.type);
          if (all.length === 2) done.resolve();
        },
      });
      await bus.publish('DeploymentCompleted', {
        service: 'api',
        environment: 'dev',
        version: '1',
        outcome: 'succeeded',
        issueKeys: [],
      });
      await ping(bus, 1);
      await within(done.promise, 5_000 * scale);
      await sleep(50 * scale);
      expect(typed).toEqual(['ConformancePing']);
      expect(all.sort()).toEqual(['ConformancePing', 'DeploymentCompleted']);
    });

    it('every subscription receives every event, and concurrency bounds parallel handlers', async () => {
      const { bus } = await setup();
      let running = 0;
      let peak = 0;
      const a: number[] = [];
      const b: number[] = [];
      const done = deferred();
      const check = () => a.length === 20 && b.length === 20 && done.resolve();
      await bus.subscribe({
        id: 'parallel',
        types: ['ConformancePing'],
        concurrency: 4,
        handler: async (e) => {
          running++;
          peak = Math.max(peak, running);
          await sleep(20);
          running--;
          a.push((e.data as { n: number }).n);
          check();
        },
      });
      await bus.subscribe({
        id: 'second',
        types: ['ConformancePing'],
        handler: (e) => {
          b.push((e.data as { n: number }).n);
          check();
        },
      });
      await Promise.all(Array.from({ length: 20 }, (_, i) => ping(bus, i)));
      await within(done.promise, 10_000 * scale, () => `a=${a.length} b=${b.length}`);
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(4);
      expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect([...b].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    it('retries a failing handler with backoff and records the result', async () => {
      const { bus, transport } = await setup();
      const attempts: number[] = [];
      const done = deferred();
      await bus.subscribe({
        id: 'retry',
        types: ['ConformancePing'],
        backoff: fast,
        maxAttempts: 5,
        handler: (_e, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
          done.resolve();
          return { ok: 'third time' };
        },
      });
      const { event } = await ping(bus, 1);
      await within(done.promise, 10_000 * scale);
      expect(attempts).toEqual([1, 2, 3]);
      const record = await eventually(async () => {
        const r = (await transport.deliveries(event.id)).find((d) => d.subscription === 'retry');
        return r?.status === 'succeeded' ? r : undefined;
      }, 3_000 * scale);
      expect(record.attempts).toBe(3);
      expect(record.result).toEqual({ ok: 'third time' });
    });

    it('honours the retryAfterMs an error carries', async () => {
      const { bus } = await setup();
      const times: number[] = [];
      const done = deferred();
      await bus.subscribe({
        id: 'retry-after',
        types: ['ConformancePing'],
        backoff: fast,
        handler: (_e, ctx) => {
          times.push(Date.now());
          if (ctx.attempt === 1)
            throw new RetryableError('TEST_THROTTLED', 'slow down', { retryAfterMs: 400 * scale });
          done.resolve();
        },
      });
      await ping(bus, 1);
      await within(done.promise, 10_000 * scale);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(380 * scale);
    });

    it('aborts a handler past its timeout, retries it, then dead-letters it', async () => {
      const { bus, transport } = await setup();
      let aborted = 0;
      let calls = 0;
      await bus.subscribe({
        id: 'timeout',
        types: ['ConformancePing'],
        timeoutMs: 100,
        maxAttempts: 2,
        backoff: fast,
        handler: (_e, ctx) =>
          new Promise<void>(() => {
            calls++;
            ctx.signal.addEventListener('abort', () => aborted++);
          }),
      });
      const { event } = await ping(bus, 1);
      const [dead] = await eventually(async () => {
        const list = await transport.deadLetters({ subscription: 'timeout' });
        return list.length > 0 ? list : undefined;
      }, 10_000 * scale);
      expect(calls).toBe(2);
      expect(aborted).toBe(2);
      expect(dead!.event.id).toBe(event.id);
      expect(dead!.attempts).toBe(2);
      expect(dead!.lastError.code).toBe('SY_HANDLER_TIMEOUT');
    });

    it('dead-letters a permanent failure at once; lists, replays and drops dead letters', async () => {
      const { bus, transport } = await setup();
      let fail = true;
      const handled: number[] = [];
      await bus.subscribe({
        id: 'dlq',
        types: ['ConformancePing'],
        backoff: fast,
        handler: (e) => {
          if (fail)
            throw new PermanentError('TEST_BAD_INPUT', `cannot handle ${(e.data as { n: number }).n}`);
          handled.push((e.data as { n: number }).n);
        },
      });
      await ping(bus, 1);
      await ping(bus, 2);
      await ping(bus, 3);
      const dead = await eventually(async () => {
        const list = await transport.deadLetters({ subscription: 'dlq' });
        return list.length === 3 ? list : undefined;
      }, 5_000 * scale);
      expect(dead.map((d) => d.attempts)).toEqual([1, 1, 1]);
      expect(dead[0]!.lastError).toMatchObject({ code: 'TEST_BAD_INPUT', retryable: false });
      expect(dead[0]!.lastError.message).toMatch(/cannot handle/);
      expect(await transport.deadLetters({ type: 'DeploymentCompleted' })).toEqual([]);

      fail = false;
      const one = dead.find((d) => (d.event.data as { n: number }).n === 1)!;
      expect(await transport.replayDeadLetters({ id: one.id })).toBe(1);
      await eventually(async () => (handled.includes(1) ? true : undefined), 5_000 * scale);
      const two = dead.find((d) => (d.event.data as { n: number }).n === 2)!;
      expect(await transport.dropDeadLetters({ id: two.id })).toBe(1);
      const left = await transport.deadLetters({ subscription: 'dlq' });
      expect(left.map((d) => (d.event.data as { n: number }).n)).toEqual([3]);
      expect(await transport.replayDeadLetters({ subscription: 'dlq' })).toBe(1);
      await eventually(async () => (handled.includes(3) ? true : undefined), 5_000 * scale);
      expect(handled.sort()).toEqual([1, 3]);
      expect(await transport.deadLetters()).toEqual([]);
    });

    it('dedupes ingest by delivery key and by event id', async () => {
      const { bus, transport } = await setup();
      const seen: string[] = [];
      await bus.subscribe({ id: 'dedupe', types: ['ConformancePing'], handler: (e) => void seen.push(e.id) });
      const first = await ping(bus, 1, { deliveryKey: 'webhook-abc' });
      const again = await ping(bus, 1, { deliveryKey: 'webhook-abc' });
      expect(again.duplicate).toBe(true);
      expect(again.event.id).toBe(first.event.id);
      const withId = await ping(bus, 2, { id: 'fixed-id-1', source: 'test' });
      const sameId = await transport.append(withId.event);
      expect(sameId.duplicate).toBe(true);
      await sleep(200 * scale);
      expect(seen.sort()).toEqual([first.event.id, 'fixed-id-1'].sort());
      expect(await transport.query({ type: 'ConformancePing' })).toHaveLength(2);
    });

    it('keeps causality and returns the causal tree of an event', async () => {
      const { bus, transport } = await setup();
      const root = (await ping(bus, 1)).event;
      const child = (await ping(bus, 2, { cause: root })).event;
      const grandchild = (await ping(bus, 3, { cause: child })).event;
      const sibling = (await ping(bus, 4, { cause: root })).event;
      const unrelated = (await ping(bus, 5)).event;
      expect(child.correlationid).toBe(root.id);
      expect(grandchild.correlationid).toBe(root.id);
      expect(grandchild.causationid).toBe(child.id);
      const trace = (await transport.trace(child.id))!;
      expect(trace.map((e) => e.id)).toEqual([root.id, child.id, grandchild.id]);
      const whole = (await transport.trace(root.id))!;
      expect(new Set(whole.map((e) => e.id))).toEqual(
        new Set([root.id, child.id, grandchild.id, sibling.id]),
      );
      expect(whole.some((e) => e.id === unrelated.id)).toBe(false);
      expect(await transport.trace('no-such-id')).toBeUndefined();
    });

    it('sets causation automatically when a handler publishes', async () => {
      const { bus, transport } = await setup();
      const done = deferred<SwitchyardEvent>();
      await bus.subscribe({
        id: 'chain',
        types: ['ConformancePing'],
        handler: async (e) => {
          const n = (e.data as { n: number }).n;
          if (n < 3) await ping(bus, n + 1);
          else done.resolve(e);
        },
      });
      const root = (await ping(bus, 1)).event;
      const last = await within(done.promise, 5_000 * scale);
      expect(last.correlationid).toBe(root.id);
      const trace = (await transport.trace(root.id))!;
      expect(trace.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3]);
      expect(trace[2]!.causationid).toBe(trace[1]!.id);
    });

    it('queries by type, subject, correlation, time and limit', async () => {
      const { bus, transport } = await setup();
      const a = (await ping(bus, 1, { subject: 'PROJ-1' })).event;
      await sleep(5);
      const b = (await ping(bus, 2, { subject: 'PROJ-2', cause: a })).event;
      await bus.publish('DeploymentCompleted', {
        service: 'api',
        environment: 'dev',
        version: '1',
        outcome: 'succeeded',
        issueKeys: ['PROJ-1'],
      });
      expect((await transport.query({ type: 'ConformancePing' })).map((e) => e.id)).toEqual([a.id, b.id]);
      expect((await transport.query({ subject: 'PROJ-2' })).map((e) => e.id)).toEqual([b.id]);
      expect((await transport.query({ correlationId: a.id })).map((e) => e.id)).toEqual([a.id, b.id]);
      expect((await transport.query({ type: 'ConformancePing', since: b.time })).map((e) => e.id)).toEqual([
        b.id,
      ]);
      expect(await transport.query({ limit: 2 })).toHaveLength(2);
      expect((await transport.query({ type: 'ConformancePing', newestFirst: true, limit: 1 }))[0]!.id).toBe(
        b.id,
      );
    });

    it('resumes a stopped durable consumer with the backlog, and a new consumer starts at new events', async () => {
      const { bus } = await setup();
      const seen: number[] = [];
      const stop = await bus.subscribe({
        id: 'durable',
        types: ['ConformancePing'],
        handler: (e) => void seen.push((e.data as { n: number }).n),
      });
      await ping(bus, 1);
      await eventually(async () => (seen.length === 1 ? true : undefined), 5_000 * scale);
      await stop();
      await ping(bus, 2);
      await ping(bus, 3);
      const late: number[] = [];
      await bus.subscribe({
        id: 'late',
        types: ['ConformancePing'],
        handler: (e) => void late.push((e.data as { n: number }).n),
      });
      await bus.subscribe({
        id: 'durable',
        types: ['ConformancePing'],
        handler: (e) => void seen.push((e.data as { n: number }).n),
      });
      await ping(bus, 4);
      await eventually(
        async () => (seen.length === 4 && late.length === 1 ? true : undefined),
        5_000 * scale,
      );
      expect(seen).toEqual([1, 2, 3, 4]);
      expect(late).toEqual([4]);
    });

    it('records idempotency results', async () => {
      const { transport } = await setup();
      expect(await transport.idempotency.get('e1:sub:jira.comment#0')).toBeUndefined();
      await transport.idempotency.put('e1:sub:jira.comment#0', { commentId: '10001' });
      expect((await transport.idempotency.get('e1:sub:jira.comment#0'))?.result).toEqual({
        commentId: '10001',
      });
    });

    it('offers a key-value store with compare-and-set per namespace', async () => {
      const { transport } = await setup();
      const kv = transport.kv('plugin.test');
      const other = transport.kv('plugin.other');
      expect(await kv.get('limiter')).toBeUndefined();
      const r1 = await kv.compareAndSet('limiter', { tokens: 5 }, 0);
      expect(r1).toBeGreaterThan(0);
      expect(await kv.compareAndSet('limiter', { tokens: 4 }, 0)).toBeUndefined();
      const r2 = await kv.compareAndSet('limiter', { tokens: 4 }, r1!);
      expect(r2).toBeGreaterThan(r1!);
      expect(await kv.get('limiter')).toEqual({ value: { tokens: 4 }, revision: r2 });
      expect(await other.get('limiter')).toBeUndefined();
      await kv.set('thread.abc', '1700000000.000100');
      expect(await kv.keys('thread.')).toEqual(['thread.abc']);
      await kv.delete('thread.abc');
      expect(await kv.get('thread.abc')).toBeUndefined();
    });

    it('reports health', async () => {
      const { transport } = await setup();
      expect((await transport.health()).ok).toBe(true);
    });
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function within<T>(promise: Promise<T>, ms: number, what: () => string = () => ''): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until fn returns something other than undefined. */
export async function eventually<T>(fn: () => Promise<T | undefined>, ms = 5_000, every = 20): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(every);
  }
}
