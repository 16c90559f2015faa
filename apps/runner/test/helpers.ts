// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} and ${file:…} are config syntax here
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Daemon, type StartDaemonOptions, startDaemon } from '../src/index.js';

export const FIXTURES = resolve(import.meta.dirname, 'fixtures');
export const ECHO = join(FIXTURES, 'echo-plugin.ts');
export const ALERT = join(FIXTURES, 'alert-plugin.ts');
export const TOKEN = 'test-token-0123456789abcdef';
export const SECRET = 'plugin-secret-hunter2-xyz';

export function tempDir(prefix = 'sy-runner-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeConfig(dir: string, text: string, name = 'switchyard.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export function baseConfig(extra = '', options: { store?: string; record?: string } = {}): string {
  return [
    'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TEST_TOKEN}, bodyLimit: 4kb, shutdownTimeout: 3s }',
    `store: ${options.store ?? '{ kind: memory }'}`,
    'plugins:',
    `  echo: { package: ${JSON.stringify(ECHO)}, options: { greeting: hi, token: \${env:SY_SECRET}${
      options.record ? `, record: ${JSON.stringify(options.record)}` : ''
    } } }`,
    `  prometheus: { package: ${JSON.stringify(ALERT)} }`,
    'log: { level: debug }',
    extra,
  ].join('\n');
}

export interface TestDaemon {
  daemon: Daemon;
  logs: string[];
  dir: string;
  config: string;
}

export async function bootDaemon(
  text: string,
  options: Partial<StartDaemonOptions> = {},
): Promise<TestDaemon> {
  const dir = tempDir();
  const config = writeConfig(dir, text);
  const logs: string[] = [];
  const daemon = await startDaemon({
    config,
    env: { SY_TEST_TOKEN: TOKEN, SY_SECRET: SECRET },
    logDestination: { write: (line: string) => logs.push(line) },
    ...options,
  });
  return { daemon, logs, dir, config };
}

export const auth = { authorization: `Bearer ${TOKEN}` };

export async function until<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
