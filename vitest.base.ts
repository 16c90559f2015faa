// Shared vitest settings. Workspace packages are resolved to their TypeScript sources through the
// "@switchyard/source" export condition, so tests never run against a stale dist/.
import { defaultServerConditions, mergeConfig, type UserConfig } from 'vite';

export function vitestConfig(overrides: UserConfig = {}): UserConfig {
  const conditions = ['@switchyard/source', ...defaultServerConditions];
  return mergeConfig(
    {
      resolve: { conditions },
      ssr: { resolve: { conditions } },
      test: { include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 20_000, hookTimeout: 30_000 },
    },
    overrides,
  );
}
