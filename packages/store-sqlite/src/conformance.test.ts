import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transportConformance } from '@switchyard/testing';
import { SqliteTransport } from './index.js';

transportConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-sqlite-'));
  return {
    transport: new SqliteTransport({ path: join(dir, 'switchyard.db') }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});
