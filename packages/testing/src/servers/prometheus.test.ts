import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { findPrometheus, prometheusSkipReason, startExporter, startPrometheus } from './prometheus.js';

describe('prometheusSkipReason', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('skips with an install hint locally and fails under CI when the binary is missing', () => {
    vi.stubEnv('PATH', '/nonexistent');
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    vi.stubEnv('CI', '');
    expect(findPrometheus()).toBeUndefined();
    expect(prometheusSkipReason()).toContain('apt-get install prometheus');
    vi.stubEnv('CI', 'true');
    expect(() => prometheusSkipReason()).toThrow(
      /prometheus binary not found.*apt-get install prometheus.*CI is set/,
    );
  });
});

describe('startExporter', () => {
  it('serves the text the test sets at /metrics and counts scrapes', async () => {
    const exporter = await startExporter('up_ratio 1');
    try {
      expect(await (await fetch(`${exporter.url}/metrics`)).text()).toBe('up_ratio 1\n');
      exporter.set('up_ratio NaN\n');
      expect(await (await fetch(`${exporter.url}/metrics`)).text()).toBe('up_ratio NaN\n');
      expect((await fetch(`${exporter.url}/other`)).status).toBe(404);
      expect(exporter.scrapes).toBe(2);
    } finally {
      await exporter.stop();
    }
  });
});

describe.skipIf(!findPrometheus() && !process.env.CI)('startPrometheus', () => {
  it('runs the real binary on loopback and kills it by PID on stop', async () => {
    const prometheus = await startPrometheus({ scrapeTargets: ['127.0.0.1:9'] });
    expect(prometheus.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(`/proc/${prometheus.pid}`)).toBe(true);
    const scalar = await prometheus.waitForSeries('vector(42)', 5_000);
    expect(scalar).toMatchObject({ resultType: 'vector' });
    await prometheus.stop();
    expect(() => process.kill(prometheus.pid, 0)).toThrow();
  });
});
