import {
  type Clock,
  type Core,
  createCore,
  createLogger,
  type InvokeOptions,
  type PublishOptions,
  type PublishResult,
  Secrets,
  type SwitchyardEvent,
  type Transport,
  type WebhookResponse,
} from '@switchyard/core';
import type { Dispatcher } from 'undici';
import { ManualClock, settle } from './clock.js';

export interface TestPlugin {
  /** The plugin module or its definePlugin() result. */
  plugin: unknown;
  options?: unknown;
  /** Key under `plugins:` (defaults to the plugin's id). */
  key?: string;
}

export interface TestHostOptions {
  /** Plugins to load: definitions (options from `config`) or { plugin, options }. */
  plugins?: Array<unknown | TestPlugin>;
  /** Options per plugin id, for plugins given as bare definitions. */
  config?: Record<string, unknown>;
  /** Defaults to the in-memory transport. */
  transport?: Transport;
  /** A ManualClock by default, so retries and rate limits run without waiting. Pass systemClock for real time. */
  clock?: Clock;
  /** undici dispatcher for every plugin's outbound HTTP (see recordHttp). */
  dispatcher?: Dispatcher;
  /** Values that must never appear in logs: they are masked in `host.logs`, as the runner masks them. */
  secrets?: string[];
  bootTimeoutMs?: number;
  httpTimeoutMs?: number;
}

export interface WebhookCall {
  method?: string;
  /** Below `/webhooks/<plugin>`: "" or "/interactions". */
  path?: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings and Buffers as they are. */
  body?: unknown;
  query?: Record<string, string>;
}

export interface TestHost {
  core: Core;
  clock: Clock;
  /** ManualClock when the host made its own clock. */
  manualClock: ManualClock | undefined;
  /** Every JSON log line written while the host ran. */
  logs: Array<Record<string, unknown>>;
  /** Publishes an event as if it came from outside (a webhook, another plugin). */
  receive(type: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  invoke(action: string, params: unknown, options?: InvokeOptions): Promise<unknown>;
  /** Events published so far (all, or of one type), oldest first. */
  emitted(type?: string): SwitchyardEvent[];
  /** Resolves with the first event (past or future) of `type` that matches. */
  waitFor(
    type: string,
    predicate?: (event: SwitchyardEvent) => boolean,
    timeoutMs?: number,
  ): Promise<SwitchyardEvent>;
  /** Calls a plugin's webhook route in process, with the exact bytes given. */
  webhook(plugin: string, call: WebhookCall): Promise<WebhookResponse>;
  /** Advances the manual clock (and lets the resulting work run). */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Boots a real plugin host — real bus, real transport (memory unless given), real HTTP for the
 * plugins — with a controllable clock and an event recorder. For plugin authors' tests.
 */
export async function createTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const manualClock = options.clock ? undefined : new ManualClock();
  const clock = options.clock ?? manualClock!;
  const logs: Array<Record<string, unknown>> = [];
  const secrets = new Secrets();
  for (const s of options.secrets ?? []) secrets.add(s);
  const logger = createLogger({
    level: 'debug',
    secrets,
    destination: {
      write(line: string) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ raw: line });
        }
      },
    },
  });
  const core = createCore({
    ...(options.transport ? { transport: options.transport } : {}),
    clock,
    logger,
    secrets,
    host: {
      ...(options.dispatcher ? { httpDispatcher: options.dispatcher } : {}),
      ...(options.bootTimeoutMs !== undefined ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
      ...(options.httpTimeoutMs !== undefined ? { httpTimeoutMs: options.httpTimeoutMs } : {}),
    },
  });
  await core.transport.open();

  const entries = (options.plugins ?? []).map((item) => {
    const isWrapped = typeof item === 'object' && item !== null && 'plugin' in item && !('setup' in item);
    const plugin = isWrapped ? (item as TestPlugin).plugin : item;
    const def = (plugin as { default?: { id?: string }; id?: string }) ?? {};
    const id = def.id ?? def.default?.id ?? 'unknown';
    const key = (isWrapped ? (item as TestPlugin).key : undefined) ?? id;
    const opts = isWrapped ? (item as TestPlugin).options : options.config?.[id];
    return { key, module: plugin, options: opts ?? {} };
  });
  core.host.add(entries);

  const recorded: SwitchyardEvent[] = [];
  const waiters = new Set<(e: SwitchyardEvent) => void>();
  const stopRecorder = await core.bus.subscribe({
    id: 'testing:recorder',
    types: ['*'],
    concurrency: 64,
    handler: (event) => {
      recorded.push(event);
      for (const w of [...waiters]) w(event);
    },
  });
  await core.host.start();

  const host: TestHost = {
    core,
    clock,
    manualClock,
    logs,
    receive: (type, data, publishOptions) => core.bus.publish(type, data, { cause: null, ...publishOptions }),
    invoke: (action, params, invokeOptions) => core.host.invoke(action, params, invokeOptions),
    emitted: (type) => recorded.filter((e) => type === undefined || e.type === type),
    waitFor(type, predicate = () => true, timeoutMs = 5_000) {
      const found = recorded.find((e) => e.type === type && predicate(e));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `no ${type} event matched within ${timeoutMs} ms; saw: ${recorded.map((e) => e.type).join(', ') || 'nothing'}`,
            ),
          );
        }, timeoutMs);
        const waiter = (e: SwitchyardEvent) => {
          if (e.type === type && predicate(e)) {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(e);
          }
        };
        waiters.add(waiter);
      });
    },
    async webhook(plugin, call) {
      const path = `/webhooks/${plugin}${call.path ?? ''}`;
      const method = (call.method ?? 'POST').toUpperCase();
      const route = core.host.routes().find((r) => r.fullPath === path && r.method === method);
      if (!route) return { status: 404, body: { error: `no route ${method} ${path}` } };
      const raw =
        call.body === undefined
          ? Buffer.alloc(0)
          : Buffer.isBuffer(call.body)
            ? call.body
            : Buffer.from(typeof call.body === 'string' ? call.body : JSON.stringify(call.body));
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(call.headers ?? {})) headers[k.toLowerCase()] = v;
      if (call.body !== undefined && typeof call.body === 'object' && !Buffer.isBuffer(call.body)) {
        headers['content-type'] ??= 'application/json';
      }
      return route.handler({ method, path: call.path ?? '', headers, query: call.query ?? {}, rawBody: raw });
    },
    async advance(ms) {
      if (!manualClock) throw new Error('advance() needs the default ManualClock');
      await manualClock.advance(ms);
    },
    async close() {
      await core.host.stop({ deadlineMs: 1_000 });
      await stopRecorder({ deadlineMs: 100 });
      await core.bus.stop({ deadlineMs: 1_000 });
      await core.transport.close({ deadlineMs: 1_000 });
    },
  };
  await settle(1);
  return host;
}
