import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunnerErrorCodes } from './errors.js';

describe('runner error codes', () => {
  it('are each documented with a fix in docs/errors/runner.md', () => {
    const docs = readFileSync(resolve(import.meta.dirname, '../../../docs/errors/runner.md'), 'utf8');
    const missing = Object.values(RunnerErrorCodes).filter((code) => !docs.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});
