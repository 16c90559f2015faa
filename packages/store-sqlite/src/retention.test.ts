import { join } from 'node:path';
import { eventually, ManualClock } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { ping, recorder, spec, useTempDb } from '../test/helpers.js';

describe('SqliteTransport retention', () => {
  const db = useTempDb();

  it('keeps the newest maxEvents, but never what a consumer still owes or a dead letter holds', async () => {
    const t = await db.open({ path: join(db.dir(), 'count.db'), retention: { maxEvents: 10 } });
    const h = recorder((event) =>
      (event.data as { n: number }).n === 2
        ? { ok: false, error: { code: 'TEST_BAD', message: 'no', retryable: false } }
        : { ok: true },
    );
    await t.consume(spec('fast'), h.handler);
    for (let i = 0; i < 30; i++) await t.append(ping(i));
    await eventually(async () => (h.seen.length === 30 ? true : undefined));
    await eventually(async () => ((await t.deadLetters()).length === 1 ? true : undefined));
    // A consumer created now starts at the tail, so it holds nothing back.
    expect(await t.prune()).toEqual({ events: 19, idempotency: 0 });
    const left = (await t.query({ limit: 100 })).map((e) => (e.data as { n: number }).n);
    expect(left).toEqual([2, ...Array.from({ length: 10 }, (_, i) => 20 + i)]);
    expect((await t.deadLetters())[0]!.event.data).toEqual({ n: 2 });
    await t.dropDeadLetters({});
    expect((await t.prune()).events).toBe(1);
  });

  it('prunes by age in small batches, and a stopped consumer keeps its backlog', async () => {
    const clock = new ManualClock(Date.parse('2026-11-26T12:00:00Z'));
    const t = await db.open({
      path: join(db.dir(), 'age.db'),
      clock,
      retention: { maxAgeMs: 60_000 },
    });
    const h = recorder();
    const consumer = await t.consume(spec('paused'), h.handler);
    await consumer.stop();
    const old = Date.parse('2026-11-26T11:00:00Z');
    for (let i = 0; i < 1200; i++) await t.append(ping(i, { time: new Date(old + i).toISOString() }));
    expect((await t.prune()).events).toBe(0); // all still owed to "paused"
    await t.consume(spec('paused'), h.handler);
    await eventually(async () => (h.seen.length === 1200 ? true : undefined), 10_000);
    await eventually(async () => ((await t.prune()).events === 1200 ? true : undefined));
    expect(await t.query({})).toEqual([]);
    await t.idempotency.put('old', 1);
    await clock.advance(61_000);
    await t.idempotency.put('new', 2);
    // The retention timer (every minute by default) runs on the transport's clock: at +120 s it
    // prunes what is older than +60 s.
    await clock.advance(60_000);
    await eventually(async () => ((await t.idempotency.get('old')) === undefined ? true : undefined));
    expect((await t.idempotency.get('new'))?.result).toBe(2);
  });
});
