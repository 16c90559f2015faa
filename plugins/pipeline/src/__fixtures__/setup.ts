import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Clock,
  type IssueTransitionedData,
  type KeyValueStore,
  MemoryTransport,
  type SwitchyardEvent,
  systemClock,
  type Transport,
} from '@switchyard/core';
import jira from '@switchyard/plugin-jira';
import { createGitRemote, createTestHost, FakeJira, type TestHost } from '@switchyard/testing';
import pipeline from '../index.js';

// Test world: a bare Git repository standing in for the remote, stand-in `mvn` and `kubectl` on
// PATH (no Maven repository or Kubernetes cluster exists here), a fake Jira behind the real Jira
// plugin, and a test host running the pipeline plugin with real child processes and real time.

export const SEED = join(import.meta.dirname, 'feature-driven-deployment.yaml');
export const BIN = join(import.meta.dirname, 'bin');
export const EMAIL = 'switchyard@example.com';
export const TOKEN = 'fake-jira-api-token-0123456789';

const STANDIN_VARS = ['MVN_FAIL_ON', 'MVN_HANG_ON', 'MVN_SLEEP', 'KUBECTL_FAIL_ON', 'KUBECTL_HANG_ON'];

/** Events with data typed loosely, for assertions. */
export type AnyEvent = SwitchyardEvent & { data: any };
export type Host = Omit<TestHost, 'emitted' | 'waitFor'> & {
  emitted(type?: string): AnyEvent[];
  waitFor(type: string, predicate?: (event: AnyEvent) => boolean, timeoutMs?: number): Promise<AnyEvent>;
};

export interface World {
  dir: string;
  /** Path of the bare repository (the issue's customfield_10001). */
  remote: string;
  standin: string;
  workdir: string;
  jira: FakeJira;
  /** Lines the stand-ins recorded: "mvn clean package", "kubectl get namespace dev-proj-1"… */
  calls(): string[];
  /** Writes a pipeline file into the world and returns its path. */
  file(name: string, yaml: string): string;
  /** Boots a host with jira (unless false) and pipeline; options merged over the defaults. */
  host(
    options?: Record<string, unknown>,
    extra?: { transport?: Transport; jira?: boolean; clock?: Clock },
  ): Promise<Host>;
  close(): Promise<void>;
}

/** A bare repo with main (pom.xml, k8s/dev/deployment.yaml) and feature/<key> for each key. */
export function makeRemote(dir: string, featureKeys: string[] = ['PROJ-1']): string {
  return createGitRemote(dir, featureKeys);
}

export async function createWorld(featureKeys?: string[]): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-pipeline-'));
  const remote = makeRemote(dir, featureKeys);
  const standin = join(dir, 'standin');
  mkdirSync(standin);
  for (const v of STANDIN_VARS) delete process.env[v];
  process.env.STANDIN_DIR = standin;
  if (!process.env.PATH?.startsWith(BIN)) process.env.PATH = `${BIN}:${process.env.PATH}`;
  const jiraServer = await new FakeJira({ auth: { email: EMAIL, token: TOKEN } }).start();
  const hosts: TestHost[] = [];
  const world: World = {
    dir,
    remote,
    standin,
    workdir: join(dir, 'work'),
    jira: jiraServer,
    calls() {
      try {
        return readFileSync(join(standin, 'calls.log'), 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    file(name, yaml) {
      const path = join(dir, name);
      writeFileSync(path, yaml);
      return path;
    },
    async host(options = {}, extra = {}) {
      const plugins: unknown[] = [];
      if (extra.jira !== false) {
        plugins.push({ plugin: jira, options: { baseUrl: jiraServer.url, email: EMAIL, token: TOKEN } });
      }
      plugins.push({
        plugin: pipeline,
        options: { pipelines: [SEED], workdir: join(dir, 'work'), killGrace: '300ms', ...options },
      });
      const host = await createTestHost({
        plugins,
        clock: extra.clock ?? systemClock,
        secrets: [TOKEN],
        ...(extra.transport ? { transport: extra.transport } : {}),
      });
      hosts.push(host);
      return host as unknown as Host;
    },
    async close() {
      for (const h of hosts) await h.close().catch(() => {});
      await jiraServer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** IssueTransitioned data as the Jira plugin emits it for a move to "Ready for Development". */
export function transitioned(
  key: string,
  remote: string,
  overrides: Partial<IssueTransitionedData> = {},
): IssueTransitionedData {
  return {
    issueKey: key,
    issueId: '10001',
    projectKey: key.split('-')[0]!,
    summary: `Feature ${key}`,
    issueType: 'Story',
    fromStatus: 'To Do',
    toStatus: 'Ready for Development',
    transitionedBy: { displayName: 'Dev' },
    labels: [],
    url: `https://jira.example.com/browse/${key}`,
    fields: { summary: `Feature ${key}`, customfield_10001: remote },
    ...overrides,
  };
}

/** A memory transport that outlives a test host (its close() is a no-op): a "restart" on the same store. */
export function sharedTransport(): Transport {
  const transport = new MemoryTransport({ clock: systemClock });
  return new Proxy(transport, {
    get(target, prop) {
      if (prop === 'close') return async () => {};
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Several runners on one store, as with NATS: each runner has its own bus (its own memory
 * transport, so each receives the triggers it is given), but every plugin store is the same
 * key-value store. `cut(i)` cuts runner i off from the store, as a crash or a network partition
 * would: its reads and writes fail until `restore(i)`.
 */
export function sharedStore(clock: Clock) {
  const store = new MemoryTransport({ clock });
  const cuts: boolean[] = [];
  return {
    /** The store itself, as every runner sees it. */
    kv: (namespace: string) => store.kv(namespace),
    /** A transport for runner `index`. */
    transport(index: number): Transport {
      cuts[index] = false;
      const transport = new MemoryTransport({ clock });
      transport.kv = (namespace: string) => cuttable(store.kv(namespace), () => cuts[index] === true);
      return transport;
    },
    cut(index: number) {
      cuts[index] = true;
    },
    /** Reconnects runner `index` to the store. */
    restore(index: number) {
      cuts[index] = false;
    },
  };
}

function cuttable(kv: KeyValueStore, isCut: () => boolean): KeyValueStore {
  const guard = <T>(fn: () => Promise<T>): Promise<T> =>
    isCut() ? Promise.reject(new Error('runner cut off from the store (test)')) : fn();
  return {
    get: (key) => guard(() => kv.get(key)),
    set: (key, value) => guard(() => kv.set(key, value)),
    compareAndSet: (key, value, revision) => guard(() => kv.compareAndSet(key, value, revision)),
    delete: (key) => guard(() => kv.delete(key)),
    keys: (prefix) => guard(() => kv.keys(prefix)),
  };
}

/** Whether a process is alive (signal 0); a zombie (killed, not yet reaped by init) is not. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until fn returns a truthy value. */
export async function until<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function readPid(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}
