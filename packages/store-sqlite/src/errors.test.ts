import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ping, useTempDb } from '../test/helpers.js';
import { SqliteErrorCodes } from './errors.js';
import { SqliteTransport } from './index.js';

const isRoot = process.getuid?.() === 0;

describe('SqliteTransport errors', () => {
  const db = useTempDb();

  it('documents every error code with a fix', () => {
    const page = readFileSync(resolve(import.meta.dirname, '../../../docs/errors/store-sqlite.md'), 'utf8');
    for (const code of Object.values(SqliteErrorCodes)) expect(page).toContain(`| \`${code}\` |`);
  });

  it('refuses bad options, naming each one', () => {
    const attempt = (o: unknown) => () => new SqliteTransport(o as never);
    expect(attempt({})).toThrow(/store\.path must be the path/);
    expect(attempt({ path: ':memory:' })).toThrow(/kind: memory/);
    expect(attempt({ path: 'x.db', synchronous: 'off' })).toThrow(
      /store\.synchronous must be "full" or "normal"/,
    );
    expect(attempt({ path: 'x.db', retention: { maxEvents: 1.5, maxAgeMs: -1 } })).toThrow(
      /maxAgeMs must be a positive number.*maxEvents must be a positive integer/,
    );
    try {
      attempt({})();
    } catch (error) {
      expect(error).toMatchObject({ code: 'SY_SQLITE_OPTIONS_INVALID', retryable: false });
    }
  });

  it('lets a second daemon on the same file fail with the holder named, and works again after close', async () => {
    const path = join(db.dir(), 'locked.db');
    const first = await db.open({ path });
    const second = new SqliteTransport({ path });
    await expect(second.open()).rejects.toMatchObject({
      code: 'SY_SQLITE_LOCKED',
      message: expect.stringMatching(new RegExp(`${path}.*process ${process.pid}`)),
    });
    await first.close();
    const third = await db.open({ path });
    expect((await third.health()).ok).toBe(true);
  });

  it('keeps another process out while open, and needs no cleanup after that process is killed', async () => {
    const path = join(db.dir(), 'killed.db');
    // A process that opens the store and is SIGKILLed leaves its lock note behind.
    const child = `
      const D = require('better-sqlite3');
      const db = new D(${JSON.stringify(path)});
      db.pragma('locking_mode = EXCLUSIVE'); db.pragma('journal_mode = WAL'); db.exec('CREATE TABLE IF NOT EXISTS t (x)');
      require('fs').writeFileSync(${JSON.stringify(`${path}.lock`)}, process.pid + '\\nsomewhere\\n');
      process.kill(process.pid, 'SIGKILL');`;
    expect(() =>
      execFileSync(process.execPath, ['-e', child], { cwd: resolve(import.meta.dirname, '..') }),
    ).toThrow();
    const t = await db.open({ path });
    expect((await t.append(ping(1))).duplicate).toBe(false);
  });

  it('names the path of a file that is not a database, and leaves it untouched', async () => {
    const path = join(db.dir(), 'garbage.db');
    const garbage = Buffer.alloc(8192, 'not a database ');
    writeFileSync(path, garbage);
    const t = new SqliteTransport({ path });
    await expect(t.open()).rejects.toMatchObject({
      code: 'SY_SQLITE_CORRUPT',
      message: expect.stringContaining(path),
    });
    expect(readFileSync(path).equals(garbage)).toBe(true);
  });

  it('names the path it cannot write to', async () => {
    let path: string;
    if (isRoot) {
      path = '/proc/switchyard/store.db'; // root ignores file modes; /proc refuses everyone
    } else {
      const dir = db.dir();
      chmodSync(dir, 0o555);
      path = join(dir, 'ro.db');
    }
    const t = new SqliteTransport({ path });
    const error = await t.open().then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(error?.code).toMatch(/^SY_SQLITE_(READONLY|OPEN_FAILED)$/);
    expect(error?.message).toContain(isRoot ? '/proc/switchyard' : path);
  });

  it('rolls back a whole batch when the disk is full, says so, and recovers when space returns', async () => {
    const path = join(db.dir(), 'full.db');
    const t = await db.open({ path, maxSizeBytes: 256 * 1024 });
    const big = 'x'.repeat(20_000);
    const before = statSync(path).size;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => t.append(ping(i, { subject: big }))),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length).toBe(40); // one batch: all or nothing
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'SY_SQLITE_DISK_FULL',
      retryable: true,
      message: expect.stringContaining(path),
    });
    expect(await t.query({})).toEqual([]);
    expect((await t.health()).ok).toBe(false);
    expect(statSync(path).size).toBeGreaterThanOrEqual(before);
    await t.append(ping(1));
    expect(await t.query({})).toHaveLength(1);
    expect((await t.health()).ok).toBe(true);
  });

  it('rejects unusable values and filters with coded errors', async () => {
    const t = await db.open({ path: join(db.dir(), 'values.db') });
    await expect(t.kv('x').set('k', undefined)).rejects.toMatchObject({
      code: 'SY_SQLITE_VALUE_UNSERIALIZABLE',
    });
    await expect(t.idempotency.put('k', 10n)).rejects.toMatchObject({
      code: 'SY_SQLITE_VALUE_UNSERIALIZABLE',
    });
    await expect(t.query({ since: 'yesterday' })).rejects.toMatchObject({
      code: 'SY_SQLITE_QUERY_INVALID',
      message: expect.stringContaining('query.since'),
    });
    await expect(new SqliteTransport({ path: join(db.dir(), 'n.db') }).get('x')).rejects.toMatchObject({
      code: 'SY_SQLITE_NOT_OPEN',
    });
    await t.close();
    await expect(t.append(ping(1))).rejects.toMatchObject({ code: 'SY_TRANSPORT_CLOSED' });
    expect((await t.health()).ok).toBe(false);
  });
});
