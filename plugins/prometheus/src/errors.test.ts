import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PrometheusErrorCodes } from './errors.js';

describe('error codes', () => {
  it('are each documented with a fix in docs/errors/prometheus.md', () => {
    const doc = readFileSync(new URL('../../../docs/errors/prometheus.md', import.meta.url), 'utf8');
    for (const code of Object.values(PrometheusErrorCodes)) {
      expect(code).toMatch(/^SY_PROMETHEUS_[A-Z_]+$/);
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
      expect(row, `${code} has no row in docs/errors/prometheus.md`).toBeDefined();
      expect(row!.split('|').filter((cell) => cell.trim()).length).toBe(4);
    }
  });
});
