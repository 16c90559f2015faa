import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteTransport } from '../src/index.js';

const N = 1500;
const KILLS = 5;
const CONCURRENCY = 4;
/** Outcomes a consumer may have handled but not yet committed (consumer.ts WRITE_WINDOW). */
const WRITE_WINDOW = 512;

const dir = mkdtempSync(join(tmpdir(), 'sy-sqlite-crash-'));
const db = join(dir, 'crash.db');
const logPath = join(dir, 'log.txt');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pkg = resolve(import.meta.dirname, '..');
let stderr = '';

function start(): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', './test/fixtures/ts-resolve.mjs', 'test/fixtures/crash-child.ts', db, logPath, String(N)],
    { cwd: pkg, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  return child;
}

function lines(): string[] {
  try {
    return readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function until(what: string, test: () => boolean, child: ChildProcess, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (child.exitCode !== null)
      throw new Error(`child exited (${child.exitCode}) before ${what}:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code)),
  );

it('loses nothing and delivers everything at least once while being SIGKILLed at random points', async () => {
  const delays: number[] = [];
  for (let round = 0; round < KILLS; round++) {
    const from = lines().length;
    const child = start();
    await until('ready', () => lines().slice(from).includes('ready'), child);
    const delay = 20 + Math.floor(Math.random() * 250);
    delays.push(delay);
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited(child);
    // Every append acknowledged before the kill must be in the store.
    const acked = lines()
      .slice(from)
      .filter((l) => l.startsWith('p '))
      .map((l) => Number(l.split(' ')[1]));
    const check = new SqliteTransport({ path: db });
    await check.open();
    const missing: number[] = [];
    for (const n of acked) if (!(await check.get(`crash-${n}`))) missing.push(n);
    await check.close();
    expect(missing, `round ${round} (killed after ${delay} ms): acknowledged but lost`).toEqual([]);
  }

  const from = lines().length;
  const child = start();
  const handled = () =>
    new Set(
      lines()
        .filter((l) => l.startsWith('h '))
        .map((l) => Number(l.split(' ')[1])),
    );
  await until(
    'every event handled',
    () => handled().size === N && lines().slice(from).includes('published'),
    child,
  );
  // Let the outcomes of the last deliveries commit, then stop cleanly.
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGTERM');
  expect(await exited(child)).toBe(0);

  const calls = lines().filter((l) => l.startsWith('h '));
  const distinct = new Set(calls);
  const duplicates = calls.length - distinct.size;
  // Each kill can cost at most the deliveries in flight plus outcomes not yet committed.
  expect(duplicates, `kills after ${delays.join(', ')} ms`).toBeLessThanOrEqual(
    KILLS * (CONCURRENCY + WRITE_WINDOW),
  );
  expect(handled().size).toBe(N);

  const after = new SqliteTransport({ path: db });
  await after.open();
  expect((await after.query({ type: 'CrashPing', limit: 10_000 })).length).toBe(N);
  const retried = (await after.deliveries('crash-97'))[0];
  expect(retried).toMatchObject({ subscription: 'crash', status: 'succeeded', result: { n: 97 } });
  expect(retried!.attempts).toBeGreaterThanOrEqual(2);
  expect(await after.deadLetters()).toEqual([]);
  await after.close();
  console.info(
    `crash test: ${KILLS} kills after ${delays.join(', ')} ms; ${calls.length} handler calls for ${N} events, ${duplicates} redelivered`,
  );
}, 60_000);
