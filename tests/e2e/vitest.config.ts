import { defineConfig } from 'vitest/config';
import { vitestConfig } from '../../vitest.base.ts';

// Cross-process suites: one file at a time so daemons, Prometheus and fakes do not fight for the
// machine's two cores, with generous timeouts for process start-up.
export default defineConfig(
  vitestConfig({ test: { fileParallelism: false, testTimeout: 120_000, hookTimeout: 120_000 } }),
);
