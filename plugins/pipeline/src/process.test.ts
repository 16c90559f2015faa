import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@switchyard/core';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, until } from './__fixtures__/setup.js';
import { runProcess, StepLog } from './process.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-pipeline-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function start(script: string, signal: AbortSignal) {
  const log = new StepLog(join(dir, `${++n}.log`));
  const result = runProcess({
    file: '/bin/sh',
    args: ['-c', script],
    cwd: dir,
    env: process.env,
    log,
    signal,
    clock: systemClock,
    killGraceMs: 200,
  });
  return { log, result };
}

describe('step processes', () => {
  it('streams output to the log and keeps the tail', async () => {
    const { log, result } = start(
      'for i in 1 2 3; do echo line $i; done; echo oops >&2; exit 4',
      new AbortController().signal,
    );
    expect(await result).toMatchObject({ exitCode: 4, aborted: false });
    await log.close();
    expect(log.tail()).toBe('line 1\nline 2\nline 3\noops');
    expect(readFileSync(log.path, 'utf8')).toBe('line 1\nline 2\nline 3\noops\n');
  });

  it('on abort, kills the whole process group; SIGKILL follows when SIGTERM is ignored', async () => {
    const pidFile = join(dir, 'stubborn.pid');
    const controller = new AbortController();
    const { log, result } = start(`trap '' TERM; sleep 600 & echo $! > ${pidFile}; wait`, controller.signal);
    const pid = await until(() => {
      try {
        return Number(readFileSync(pidFile, 'utf8')) || undefined;
      } catch {
        return undefined;
      }
    });
    controller.abort(new Error('step timed out'));
    expect(await result).toMatchObject({ aborted: true, signal: 'SIGKILL' });
    await until(() => !alive(pid), 3_000, 'the background sleep to die');
    await log.close();
    expect(readFileSync(log.path, 'utf8')).toMatch(/stopping \(step timed out\): SIGTERM[\s\S]*SIGKILL/);
  });

  it('kills what a finished step left running, and reports a missing executable', async () => {
    const pidFile = join(dir, 'left.pid');
    const { result } = start(
      `sleep 600 > /dev/null 2>&1 & echo $! > ${pidFile}; exit 0`,
      new AbortController().signal,
    );
    expect(await result).toMatchObject({ exitCode: 0 });
    await until(() => !alive(Number(readFileSync(pidFile, 'utf8'))), 3_000, 'the left-over sleep to die');

    const log = new StepLog(join(dir, 'missing.log'));
    const missing = await runProcess({
      file: join(dir, 'no-such-binary'),
      args: [],
      cwd: dir,
      env: process.env,
      log,
      signal: new AbortController().signal,
      clock: systemClock,
      killGraceMs: 100,
    });
    expect(missing.spawnError?.code).toBe('ENOENT');
  });
});
