import type { DependencyContainer } from 'tsyringe';
import type { z } from 'zod';
import type { DataOf, HandlerContext, PublishOptions, PublishResult, SubscribeOptions } from './bus.js';
import type { Clock } from './clock.js';
import type { SwitchyardEvent } from './events/envelope.js';
import type { EventDefinition, EventRegistry } from './events/registry.js';
import type { HttpClient } from './http.js';
import type { Logger } from './logger.js';
import type { SwitchyardMetrics } from './metrics.js';
import type { Secrets } from './secrets.js';
import type { KeyValueStore } from './transport.js';
import { CORE_LOCATION, CORE_VERSION } from './version.js';

export const PLUGIN_TAG = Symbol.for('switchyard.plugin');

/** An action a plugin offers: `<plugin>.<name>` in rules and pipelines. */
export interface ActionSpec<P = any> {
  description?: string;
  /** Validates `with:` params (literal ones at config load, rendered ones at run time). */
  params: z.ZodType<P>;
  /** Event types the action may emit (for `switchyard check`'s wiring). */
  emits?: readonly string[];
}

export interface ActionContext {
  /** The event that led to this invocation (a rule's trigger), when there is one. */
  cause: SwitchyardEvent | undefined;
  signal: AbortSignal;
  attempt: number;
  /** Stable per (event, subscription, action): pass it to outside systems that dedupe. */
  idempotencyKey: string | undefined;
  logger: Logger;
  /** Publishes an event caused by `cause` (correlation and causation ids set). */
  emit<K extends string>(type: K, data: DataOf<K>, options?: PublishOptions): Promise<PublishResult<K>>;
}

export type ActionHandler<P = any, R = unknown> = (params: P, context: ActionContext) => Promise<R> | R;

export type WebhookMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface WebhookRequest {
  method: string;
  /** Path below `/webhooks/<plugin>`, e.g. "" or "/interactions". */
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string>;
  /** The exact bytes received, for signature checks. */
  rawBody: Buffer;
  remoteAddress?: string;
}

export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, strings as text/plain. */
  body?: unknown;
}

/**
 * A webhook route's refusal in the one error shape every route of the runner answers with:
 * `{ "error": { "code": "SY_…", "message": "…", "issues"?: [{ path, message }] } }`, so scripts read
 * a plugin's refusals the same way as the API's.
 */
export function webhookError(
  status: number,
  code: string,
  message: string,
  extra: { headers?: Record<string, string>; issues?: Array<{ path: string; message: string }> } = {},
): WebhookResponse {
  return {
    status,
    ...(extra.headers ? { headers: extra.headers } : {}),
    body: { error: { code, message, ...(extra.issues ? { issues: extra.issues } : {}) } },
  };
}

export interface WebhookRoute {
  method: WebhookMethod;
  /** "" for `/webhooks/<plugin>` itself, or "/sub/path". */
  path: string;
  /** Bytes; the runner's default (1 MiB) applies when unset. */
  bodyLimit?: number;
  /**
   * "public" (default): the sender authenticates itself (a signature the plugin checks).
   * "token": the runner requires its API bearer token (`server.token`), for routes that serve
   * operators rather than outside systems (listing runs, reading logs).
   */
  auth?: 'public' | 'token';
  handler(request: WebhookRequest): Promise<WebhookResponse> | WebhookResponse;
}

/** The bus as a plugin sees it: emits carry the plugin as source; subscriptions are namespaced. */
export interface PluginBus {
  publish<K extends string>(type: K, data: DataOf<K>, options?: PublishOptions): Promise<PublishResult<K>>;
  subscribe<const T extends readonly string[]>(options: SubscribeOptions<T>): Promise<() => Promise<void>>;
  get(id: string): Promise<SwitchyardEvent | undefined>;
  query(filter: import('./transport.js').EventQuery): Promise<SwitchyardEvent[]>;
}

export interface InvokeOptions {
  cause?: SwitchyardEvent;
  /** Skips the call when a result was already recorded under this key (redelivery). */
  idempotencyKey?: string;
  signal?: AbortSignal;
  attempt?: number;
}

export interface ActionInvoker {
  invoke(name: string, params: unknown, options?: InvokeOptions): Promise<unknown>;
  has(name: string): boolean;
  spec(name: string): ActionSpec | undefined;
}

/** What `setup` receives: the core services, typed, and the plugin's child container. */
export interface PluginContext<C = unknown> {
  id: string;
  config: C;
  bus: PluginBus;
  logger: Logger;
  http: HttpClient;
  clock: Clock;
  metrics: SwitchyardMetrics;
  secrets: Secrets;
  store: KeyValueStore;
  actions: ActionInvoker;
  events: EventRegistry;
  /** Child container with every token above registered; resolve your own @injectable classes here. */
  container: DependencyContainer;
}

export type ActionHandlers<A extends Record<string, ActionSpec>> = {
  [K in keyof A]: ActionHandler<z.output<A[K]['params']>>;
};

export interface PluginRuntime<A extends Record<string, ActionSpec> = Record<string, ActionSpec>> {
  actions?: ActionHandlers<A>;
  routes?: WebhookRoute[];
  /** After every plugin's setup, in dependency order. Subscribe here. */
  start?(): Promise<void> | void;
  /** On shutdown, in reverse order. Subscriptions made through ctx.bus are stopped by the host. */
  stop?(): Promise<void> | void;
  /** Extra readiness for /readyz (a connection the plugin keeps). */
  health?(): Promise<{ ok: boolean; detail?: string }> | { ok: boolean; detail?: string };
}

export interface PluginDefinition<
  C = any,
  A extends Record<string, ActionSpec> = Record<string, ActionSpec>,
> {
  /** Lower-case id: the key in `plugins:`, the action prefix and the webhook path segment. */
  id: string;
  version: string;
  /** semver range of @switchyard/core this plugin works with, e.g. "^0.1.0". */
  core: string;
  description?: string;
  /** Options schema (`plugins.<id>.options`). */
  config: z.ZodType<C>;
  /** Event types this plugin defines and emits. */
  emits?: readonly EventDefinition<string, any>[];
  /** Event types it subscribes to (for the wiring shown by `switchyard check`). */
  subscribes?: readonly string[];
  /** Plugins that must be set up and started before this one. */
  dependsOn?: readonly string[];
  actions?: A;
  setup(context: PluginContext<C>): PluginRuntime<A> | Promise<PluginRuntime<A>>;
}

export interface PluginTag {
  coreVersion: string;
  coreLocation: string;
}

/**
 * Declares a plugin. The returned object is the package's default export; the host validates it,
 * checks `core` against the running core, and calls `setup` with the plugin's services.
 */
export function definePlugin<C, const A extends Record<string, ActionSpec> = {}>(
  definition: PluginDefinition<C, A>,
): PluginDefinition<C, A> {
  const tag: PluginTag = { coreVersion: CORE_VERSION, coreLocation: CORE_LOCATION };
  Object.defineProperty(definition, PLUGIN_TAG, { value: tag, enumerable: false });
  return definition;
}

export function pluginTag(value: unknown): PluginTag | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as Record<symbol, PluginTag | undefined>)[PLUGIN_TAG];
}

export type { HandlerContext };
