import { join } from 'node:path';
import { eventually } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { ping, recorder, spec, useTempDb } from '../test/helpers.js';

const retryable = { code: 'TEST_DOWN', message: 'jira is down', retryable: true };
const permanent = { code: 'TEST_BAD', message: 'unknown issue', retryable: false };

describe('SqliteTransport across restarts', () => {
  const db = useTempDb();

  it('keeps a scheduled retry across a restart and records the result', async () => {
    const path = join(db.dir(), 'a.db');
    const first = await db.open({ path });
    const failing = recorder(() => ({ ok: false, error: retryable }));
    await first.consume(spec('jira'), failing.handler);
    const { event } = await first.append(ping(1));
    await eventually(async () =>
      (await first.deliveries(event.id))[0]?.status === 'retrying' ? true : undefined,
    );
    const [before] = await first.deliveries(event.id);
    expect(before).toMatchObject({ subscription: 'jira', attempts: 1, lastError: retryable });
    expect(before!.nextAttemptAt).toBeDefined();
    await first.close();

    const second = await db.open({ path });
    const ok = recorder(() => ({ ok: true, result: { commentId: '10001' } }));
    await second.consume(spec('jira'), ok.handler);
    await eventually(async () => (ok.seen.length === 1 ? true : undefined));
    expect(ok.seen).toEqual([{ n: 1, attempt: 2 }]);
    const record = await eventually(async () => {
      const [r] = await second.deliveries(event.id);
      return r?.status === 'succeeded' ? r : undefined;
    });
    expect(record).toMatchObject({ attempts: 2, result: { commentId: '10001' } });
  });

  it('delivers again what was in flight when the store went away', async () => {
    const path = join(db.dir(), 'b.db');
    const first = await db.open({ path });
    let started = 0;
    await first.consume(spec('slow'), async () => {
      started++;
      return new Promise(() => {}); // never finishes: the process "dies" with it in flight
    });
    const { event } = await first.append(ping(7));
    await eventually(async () => (started === 1 ? true : undefined));
    expect((await first.deliveries(event.id))[0]).toMatchObject({ status: 'in_flight', attempts: 1 });
    await first.close({ deadlineMs: 10 });

    const second = await db.open({ path });
    const again = recorder();
    await second.consume(spec('slow'), again.handler);
    await eventually(async () => (again.seen.length === 1 ? true : undefined));
    expect(again.seen).toEqual([{ n: 7, attempt: 1 }]);
  });

  it('resumes a consumer with its backlog after a restart; a new consumer starts at new events', async () => {
    const path = join(db.dir(), 'c.db');
    const first = await db.open({ path });
    const a = recorder();
    await first.consume(spec('a'), a.handler);
    await first.append(ping(1));
    await eventually(async () => (a.seen.length === 1 ? true : undefined));
    await first.close();

    const second = await db.open({ path });
    await second.append(ping(2));
    await second.append(ping(3));
    const resumed = recorder();
    const fresh = recorder();
    await second.consume(spec('a'), resumed.handler);
    await second.consume(spec('b'), fresh.handler);
    await second.append(ping(4));
    await eventually(async () => (resumed.seen.length === 3 && fresh.seen.length === 1 ? true : undefined));
    expect(resumed.seen.map((s) => s.n)).toEqual([2, 3, 4]);
    expect(fresh.seen.map((s) => s.n)).toEqual([4]);
  });

  it('keeps dead letters with their last error across a restart, and replays them', async () => {
    const path = join(db.dir(), 'd.db');
    const first = await db.open({ path });
    await first.consume(spec('dlq'), recorder(() => ({ ok: false, error: permanent })).handler);
    const { event } = await first.append(ping(5));
    await eventually(async () => ((await first.deadLetters()).length === 1 ? true : undefined));
    await first.close();

    const second = await db.open({ path });
    const [dead] = await second.deadLetters({ subscription: 'dlq', type: 'Ping' });
    expect(dead).toMatchObject({ subscription: 'dlq', attempts: 1, lastError: permanent });
    expect(dead!.event.id).toBe(event.id);
    const ok = recorder();
    await second.consume(spec('dlq'), ok.handler);
    expect(await second.replayDeadLetters({ subscription: 'dlq' })).toBe(1);
    await eventually(async () => (ok.seen.length === 1 ? true : undefined));
    expect(ok.seen).toEqual([{ n: 5, attempt: 1 }]);
    expect(await second.deadLetters()).toEqual([]);
  });

  it('groups concurrent appends into few commits and hands them to consumers in order', async () => {
    const t = await db.open({ path: join(db.dir(), 'e.db') });
    const seen = recorder();
    await t.consume(spec('all', { types: ['*'] }), seen.handler);
    const before = t.commits;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => t.append(ping(i))));
    expect(results.every((r) => !r.duplicate)).toBe(true);
    // One commit for the 200 appends (plus at most a few for consumer positions).
    expect(t.commits - before).toBeLessThanOrEqual(3);
    await eventually(async () => (seen.seen.length === 200 ? true : undefined));
    expect(seen.seen.map((s) => s.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('dedupes by delivery key and id within one batch and across restarts', async () => {
    const path = join(db.dir(), 'f.db');
    const t = await db.open({ path });
    const e1 = ping(1);
    const [a, b, c] = await Promise.all([
      t.append(e1, { deliveryKey: 'hook-1' }),
      t.append(ping(2), { deliveryKey: 'hook-1' }),
      t.append(e1),
    ]);
    expect([a!.duplicate, b!.duplicate, c!.duplicate]).toEqual([false, true, true]);
    expect(b!.event).toEqual(e1);
    await t.close();
    const again = await db.open({ path });
    const d = await again.append(ping(3), { deliveryKey: 'hook-1' });
    expect(d).toEqual({ event: e1, duplicate: true });
    expect(await again.query({})).toHaveLength(1);
  });

  it('stores idempotency results (undefined included) and kv values durably', async () => {
    const path = join(db.dir(), 'g.db');
    const t = await db.open({ path });
    await t.idempotency.put('e1:rule:slack.post#0', undefined);
    await t.idempotency.put('e1:rule:jira.comment#1', { id: 42 });
    const kv = t.kv('jira');
    const r1 = await kv.set('cursor', { at: 1 });
    await kv.delete('cursor');
    const r2 = await kv.set('cursor', { at: 2 });
    expect(r2).toBeGreaterThan(r1); // a recreated key never reuses a revision (no ABA for CAS)
    await t.close();
    const again = await db.open({ path });
    const record = await again.idempotency.get('e1:rule:slack.post#0');
    expect(record).toMatchObject({ key: 'e1:rule:slack.post#0', result: undefined });
    expect((await again.idempotency.get('e1:rule:jira.comment#1'))?.result).toEqual({ id: 42 });
    expect(await again.kv('jira').get('cursor')).toEqual({ value: { at: 2 }, revision: r2 });
    expect(await again.kv('jira').compareAndSet('cursor', { at: 3 }, r1)).toBeUndefined();
  });

  it('makes an online backup that opens as a store of its own', async () => {
    const dir = db.dir();
    const t = await db.open({ path: join(dir, 'live.db') });
    const { event } = await t.append(ping(1));
    await t.backup(join(dir, 'copy.db'));
    await t.append(ping(2));
    const copy = await db.open({ path: join(dir, 'copy.db') });
    expect(await copy.get(event.id)).toEqual(event);
    expect(await copy.query({})).toHaveLength(1);
  });
});
