import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createEnvelope,
  type DeliveryHandler,
  type DeliveryOutcome,
  defaultBackoff,
  type SwitchyardEvent,
} from '@switchyard/core';
import { afterEach } from 'vitest';
import { SqliteTransport, type SqliteTransportOptions } from '../src/index.js';

/** A temp directory per test, removed after it with every transport opened in it. */
export function useTempDb() {
  const opened: SqliteTransport[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const t of opened.splice(0)) await t.close({ deadlineMs: 100 });
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    dir(): string {
      const d = mkdtempSync(join(tmpdir(), 'sy-sqlite-'));
      dirs.push(d);
      return d;
    },
    async open(options: Partial<SqliteTransportOptions> & { path: string }): Promise<SqliteTransport> {
      const t = new SqliteTransport(options);
      opened.push(t);
      await t.open();
      return t;
    },
  };
}

export function ping(n: number, extra: Partial<Parameters<typeof createEnvelope>[0]> = {}): SwitchyardEvent {
  return createEnvelope({ type: 'Ping', data: { n }, source: 'test', ...extra });
}

export const spec = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  types: ['Ping'],
  maxAttempts: 5,
  backoff: { ...defaultBackoff, initialMs: 30, maxMs: 100, jitter: 0 },
  timeoutMs: 1_000,
  concurrency: 1,
  ...extra,
});

/** A handler that records what it saw and answers with `decide`. */
export function recorder(
  decide: (event: SwitchyardEvent, attempt: number) => DeliveryOutcome = () => ({ ok: true }),
) {
  const seen: Array<{ n: number; attempt: number }> = [];
  const handler: DeliveryHandler = async ({ event, attempt }) => {
    seen.push({ n: (event.data as { n: number }).n, attempt });
    return decide(event, attempt);
  };
  return { seen, handler };
}
