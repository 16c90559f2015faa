// What waits for the disk with synchronous: full. The WAL sync (fs.fdatasync) is held here, so the
// test sees exactly what resolves before the disk has the data and what only after it.
import { join } from 'node:path';
import { eventually } from '@switchyard/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ping, recorder, spec, useTempDb } from '../test/helpers.js';

const held = vi.hoisted(() => ({
  hold: false,
  /** Holds only syncs of the database file itself (checkpoints), not of its WAL. */
  holdDatabase: false,
  waiting: [] as Array<() => void>,
  calls: 0,
  databaseSyncs: 0,
  fail: undefined as (NodeJS.ErrnoException & Error) | undefined,
  /** Fails syncs of the database file (checkpoints) while set. */
  failDatabase: undefined as (NodeJS.ErrnoException & Error) | undefined,
}));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fdatasync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => {
    held.calls++;
    const database = fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.db');
    if (database) held.databaseSyncs++;
    const run = () => {
      const failure = held.fail ?? (database ? held.failDatabase : undefined);
      held.fail = undefined;
      if (failure) queueMicrotask(() => done(failure));
      else fs.fdatasync(fd, done);
    };
    if (held.hold || (database && held.holdDatabase)) held.waiting.push(run);
    else run();
  };
  return { ...fs, default: { ...fs, fdatasync }, fdatasync };
});

function release(): void {
  held.hold = false;
  held.holdDatabase = false;
  for (const run of held.waiting.splice(0)) run();
}

const settled = async <T>(p: Promise<T>): Promise<boolean> => {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((r) => setTimeout(r, 30));
  return done;
};

describe('SqliteTransport with synchronous: full', () => {
  const db = useTempDb();
  afterEach(() => {
    held.fail = undefined;
    held.failDatabase = undefined;
    release();
  });

  it('resolves an append only once the WAL is synced, and delivers the event only then', async () => {
    const t = await db.open({ path: join(db.dir(), 'a.db') });
    const seen = recorder();
    await t.consume(spec('after-sync'), seen.handler);
    held.hold = true;
    const appended = t.append(ping(1));
    expect(await settled(appended)).toBe(false);
    expect(seen.seen).toEqual([]);
    // The row is committed (a process crash keeps it); only power-loss safety is pending.
    expect(await t.query({})).toHaveLength(1);
    release();
    expect((await appended).duplicate).toBe(false);
    await eventually(async () => (seen.seen.length === 1 ? true : undefined));
  });

  it('lets idempotency records and delivery outcomes go on without waiting for the disk', async () => {
    const t = await db.open({ path: join(db.dir(), 'b.db') });
    const seen = recorder(() => ({ ok: true, result: { id: 7 } }));
    await t.consume(spec('bookkeeping', { concurrency: 1 }), seen.handler);
    const { event } = await t.append(ping(1));
    await t.append(ping(2));
    held.hold = true;
    // put resolves on commit: the action's delivery is not held for an fsync.
    expect(await settled(t.idempotency.put('e1:rule:x:0', { ok: 1 }))).toBe(true);
    expect((await t.idempotency.get('e1:rule:x:0'))?.result).toEqual({ ok: 1 });
    // Both deliveries ran and their outcomes are recorded while no sync has finished.
    await eventually(async () => (seen.seen.length === 2 ? true : undefined));
    const [record] = await eventually(async () => {
      const r = await t.deliveries(event.id);
      return r[0]?.status === 'succeeded' ? r : undefined;
    });
    expect(record).toMatchObject({ status: 'succeeded', result: { id: 7 } });
    // …and a sync for them starts shortly after by itself, with no durable write asking for one.
    await eventually(async () => (held.waiting.length > 0 ? true : undefined));
    const syncs = t.syncs;
    release();
    await eventually(async () => (t.syncs > syncs ? true : undefined));
  });

  it('shares one sync among the appends that wait together, and one sync covers later commits', async () => {
    const t = await db.open({ path: join(db.dir(), 'c.db') });
    await t.append(ping(0));
    held.hold = true;
    const first = Array.from({ length: 20 }, (_, i) => t.append(ping(i + 1)));
    await new Promise((r) => setTimeout(r, 30));
    // Committed while the first sync runs: they wait for the next one, and share it.
    const second = Array.from({ length: 20 }, (_, i) => t.append(ping(i + 21)));
    expect(await settled(Promise.all(second))).toBe(false);
    const syncsBefore = t.syncs;
    release();
    await Promise.all([...first, ...second]);
    expect(t.syncs - syncsBefore).toBeLessThanOrEqual(2);
    expect(await t.query({ limit: 100 })).toHaveLength(41);
  });

  it('rejects the appends of a failed sync with SY_SQLITE_IO and takes no more writes until a restart', async () => {
    const path = join(db.dir(), 'd.db');
    const t = await db.open({ path });
    const seen = recorder();
    await t.consume(spec('all', { types: ['*'] }), seen.handler);
    await t.append(ping(0));
    await eventually(async () => (seen.seen.length === 1 ? true : undefined), 5_000);
    held.fail = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5 });
    const event = ping(1);
    await expect(t.append(event)).rejects.toMatchObject({
      code: 'SY_SQLITE_IO',
      retryable: true,
      message: expect.stringMatching(/d\.db-wal to disk failed.*takes no more writes.*restart/),
    });
    held.fail = undefined;
    // A later sync that succeeds proves nothing about the pages of the failed one (Linux reports a
    // failed writeback once): the store stays out of service, not ready, and hands nothing over.
    await expect(t.append(ping(2))).rejects.toMatchObject({ code: 'SY_SQLITE_IO' });
    expect(await t.health()).toMatchObject({ ok: false, detail: expect.stringMatching(/restart/) });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.seen.map((s) => s.n)).toEqual([0]);
    await t.close();
    // After the restart the row of the failed commit is whatever the disk holds: here it is, and it
    // is delivered then; the sender's retry is answered as a duplicate.
    const again = await db.open({ path });
    const after = recorder();
    await again.consume(spec('all', { types: ['*'] }), after.handler);
    expect(await again.append(event)).toEqual({ event, duplicate: true });
    expect(await again.health()).toMatchObject({ ok: true });
  });

  it('stops taking writes when the database sync of a checkpoint fails: the WAL is not reused', async () => {
    const path = join(db.dir(), 'g.db');
    const t = await db.open({ path });
    const big = 'x'.repeat(6000);
    held.failDatabase = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5 });
    let refused: unknown;
    for (let i = 0; i < 400 && !refused; i++) {
      await t.append(ping(i, { data: { n: i, big } })).catch((e) => {
        refused = e;
      });
    }
    expect(refused).toMatchObject({
      code: 'SY_SQLITE_IO',
      message: expect.stringMatching(/g\.db to disk failed/),
    });
    expect(t.checkpoints).toBe(0);
    held.failDatabase = undefined;
    await expect(t.append(ping(1000))).rejects.toMatchObject({ code: 'SY_SQLITE_IO' });
    expect(await t.health()).toMatchObject({ ok: false });
  });

  it('checkpoints the WAL into the database with writes waiting for the database sync, losing nothing', async () => {
    const path = join(db.dir(), 'f.db');
    const t = await db.open({ path });
    const seen = recorder();
    await t.consume(spec('all', { types: ['*'] }), seen.handler);
    const big = 'x'.repeat(6000);
    held.holdDatabase = true;
    let n = 0;
    const appended: Array<Promise<unknown>> = [];
    // Each append commits on its own (~10 pages of event, indexes and outcome): the WAL reaches
    // the checkpoint size after about a hundred.
    while (held.waiting.length === 0) {
      appended.push(t.append(ping(n, { data: { n, big } })));
      n++;
      await new Promise((r) => setTimeout(r, 1));
      if (n > 2_000) throw new Error('no checkpoint started');
    }
    // The copy is done and the database sync is running: a new write waits for it, as it would
    // for SQLite's own checkpoint, but the event loop does not.
    const late = t.append(ping(n++));
    expect(await settled(late)).toBe(false);
    release();
    await Promise.all([...appended, late]);
    expect(t.checkpoints).toBe(1);
    await eventually(async () => (seen.seen.length === n ? true : undefined));
    await t.close();
    const again = await db.open({ path });
    expect(await again.query({ limit: 10_000 })).toHaveLength(n);
  });

  it('hands each event over once when a handler writes before its first await (synchronous: normal)', async () => {
    const t = await db.open({ path: join(db.dir(), 'h.db'), synchronous: 'normal' });
    const seen: number[] = [];
    await t.consume(spec('eager', { concurrency: 4 }), ({ event }) => {
      const n = (event.data as { n: number }).n;
      seen.push(n);
      // Runs inside the commit that handed the event over: the record commits there and then.
      return t.idempotency.put(`${event.id}:rule:eager:0`, n).then(() => ({ ok: true as const }));
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.append(ping(i))));
    await eventually(async () => (seen.length >= 20 ? true : undefined));
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('does not sync commits with synchronous: normal', async () => {
    const t = await db.open({ path: join(db.dir(), 'e.db'), synchronous: 'normal' });
    const calls = held.calls;
    held.hold = true;
    await t.append(ping(1));
    await t.idempotency.put('k', 1);
    expect(held.calls).toBe(calls);
    expect(t.syncs).toBe(0);
  });
});
