// Two functions, not the whole of semver: its entry loads 47 files at start-up (bench/RESULTS.md).
import satisfies from 'semver/functions/satisfies.js';
import validRange from 'semver/ranges/valid.js';
import { type DependencyContainer, container as rootContainer } from 'tsyringe';
import type { Dispatcher } from 'undici';
import type { Bus, PublishOptions } from './bus.js';
import type { Clock } from './clock.js';
import { ErrorCodes, isSwitchyardError, PermanentError, RetryableError, SwitchyardError } from './errors.js';
import type { SwitchyardEvent } from './events/envelope.js';
import { isEventDefinition } from './events/registry.js';
import { HttpClient } from './http.js';
import type { Logger } from './logger.js';
import type { SwitchyardMetrics } from './metrics.js';
import {
  type ActionContext,
  type ActionHandler,
  type ActionInvoker,
  type ActionSpec,
  type InvokeOptions,
  type PluginBus,
  type PluginContext,
  type PluginDefinition,
  type PluginRuntime,
  pluginTag,
  type WebhookRoute,
} from './plugin.js';
import type { Secrets } from './secrets.js';
import * as tokens from './tokens.js';
import { CORE_LOCATION, CORE_VERSION, loadedCoreInstances } from './version.js';

/** One problem found while validating plugins; all are reported together. */
export interface PluginProblem {
  plugin: string;
  /** Where in the config the problem is, e.g. `plugins.jira.options.baseUrl`. */
  path: string;
  code: string;
  message: string;
}

export class PluginValidationError extends PermanentError {
  readonly problems: PluginProblem[];
  constructor(problems: PluginProblem[]) {
    super(
      problems[0]?.code ?? ErrorCodes.PLUGIN_INVALID,
      `${problems.length} plugin problem${problems.length === 1 ? '' : 's'}:\n${problems
        .map((p) => `  - ${p.path}: ${p.message} [${p.code}]`)
        .join('\n')}`,
      { details: { problems } },
    );
    this.name = 'PluginValidationError';
    this.problems = problems;
  }
}

export interface PluginEntry {
  /** The key under `plugins:` in the config. */
  key: string;
  /** The loaded module or its default export. */
  module: unknown;
  options: unknown;
  /** Where it was loaded from, for messages. */
  source?: string;
}

export interface PluginHostOptions {
  bus: Bus;
  logger: Logger;
  metrics: SwitchyardMetrics;
  secrets: Secrets;
  clock?: Clock;
  /** Outbound HTTP dispatcher for every plugin (tests inject a recorder or MockAgent). */
  httpDispatcher?: Dispatcher;
  httpTimeoutMs?: number;
  /** Per-plugin budget for setup and for start. */
  bootTimeoutMs?: number;
  container?: DependencyContainer;
}

type PluginState = 'registered' | 'starting' | 'started' | 'failed' | 'stopped';

interface LoadedPlugin {
  key: string;
  definition: PluginDefinition;
  options: unknown;
  source: string;
  state: PluginState;
  runtime?: PluginRuntime;
  container?: DependencyContainer;
  disposers: Array<() => Promise<void>>;
  error?: Error;
}

interface RegisteredAction {
  plugin: string;
  spec: ActionSpec;
  handler: ActionHandler;
  logger: Logger;
}

export interface PluginInfo {
  id: string;
  version: string;
  core: string;
  compatible: boolean;
  source: string;
  state: PluginState;
  description?: string;
  actions: Array<{ name: string; description?: string; emits: readonly string[] }>;
  emits: string[];
  subscribes: readonly string[];
  routes: Array<{ method: string; path: string }>;
}

export interface MountedRoute extends WebhookRoute {
  plugin: string;
  /** Full path: `/webhooks/<plugin><route.path>`. */
  fullPath: string;
}

/**
 * Loads, validates, starts and stops plugins. Validation runs before anything starts and reports
 * every problem at once; start follows dependency order with a boot timeout per plugin; a failing
 * plugin's error names it; stop runs in reverse.
 */
export class PluginHost implements ActionInvoker {
  readonly #options: PluginHostOptions;
  readonly #plugins = new Map<string, LoadedPlugin>();
  readonly #actions = new Map<string, RegisteredAction>();
  #order: string[] = [];
  #started = false;

  constructor(options: PluginHostOptions) {
    this.#options = options;
  }

  /**
   * Validates plugin modules and their options without running any plugin code. Returns every
   * problem; an empty list means `add` will succeed.
   */
  validate(entries: readonly PluginEntry[]): PluginProblem[] {
    return this.check(entries).problems;
  }

  /** Validates and registers plugins (their event types included); throws with every problem. */
  add(entries: readonly PluginEntry[]): void {
    if (this.#started) throw new PermanentError(ErrorCodes.HOST_STATE, 'plugins cannot be added after start');
    const { problems, loaded } = this.check(entries);
    if (problems.length > 0) throw new PluginValidationError(problems);
    for (const plugin of loaded) {
      for (const def of plugin.definition.emits ?? [])
        this.#options.bus.registry.register(def, `plugin ${plugin.key}`);
      this.#plugins.set(plugin.definition.id, plugin);
      for (const [name, spec] of Object.entries(plugin.definition.actions ?? {})) {
        this.#actions.set(`${plugin.definition.id}.${name}`, {
          plugin: plugin.definition.id,
          spec,
          handler: missingHandler(plugin.definition.id, name),
          logger: this.#options.logger,
        });
      }
    }
    this.#order = topologicalOrder([...this.#plugins.values()].map((p) => p.definition));
  }

  private check(entries: readonly PluginEntry[]): { problems: PluginProblem[]; loaded: LoadedPlugin[] } {
    const problems: PluginProblem[] = [];
    const loaded: LoadedPlugin[] = [];
    const instances = loadedCoreInstances();
    if (instances.length > 1) {
      problems.push({
        plugin: '(process)',
        path: 'plugins',
        code: ErrorCodes.CORE_DUPLICATE,
        message: `two copies of @switchyard/core are loaded (${instances
          .map((i) => `${i.version} at ${i.location}`)
          .join(' and ')}); plugins must take core as a peerDependency so one copy serves the process`,
      });
    }
    const ids = new Map<string, string>();
    for (const entry of entries) {
      const base = `plugins.${entry.key}`;
      const source = entry.source ?? entry.key;
      const definition = unwrapPlugin(entry.module);
      const shape = definitionProblems(definition);
      if (shape.length > 0) {
        for (const message of shape) {
          problems.push({
            plugin: entry.key,
            path: base,
            code: ErrorCodes.PLUGIN_INVALID,
            message: `${source} is not a Switchyard plugin: ${message}`,
          });
        }
        continue;
      }
      const def = definition as PluginDefinition;
      const problem = (code: string, message: string, path = base) =>
        problems.push({ plugin: def.id, path, code, message });
      if (def.id !== entry.key) {
        problem(
          ErrorCodes.PLUGIN_INVALID,
          `${source} is plugin "${def.id}"; list it under plugins.${def.id}`,
        );
      }
      if (ids.has(def.id)) {
        problem(
          ErrorCodes.PLUGIN_DUPLICATE,
          `plugin "${def.id}" is loaded twice (${ids.get(def.id)} and ${source})`,
        );
      }
      ids.set(def.id, source);
      const tag = pluginTag(def);
      if (tag && tag.coreLocation !== CORE_LOCATION) {
        problem(
          ErrorCodes.CORE_DUPLICATE,
          `plugin "${def.id}" was built with another copy of @switchyard/core (${tag.coreVersion} at ${tag.coreLocation}); ` +
            `the runner uses ${CORE_VERSION} at ${CORE_LOCATION}. Declare @switchyard/core as a peerDependency and reinstall.`,
        );
      }
      if (!validRange(def.core)) {
        problem(
          ErrorCodes.PLUGIN_INVALID,
          `plugin "${def.id}" declares core range "${def.core}", which is not a semver range`,
        );
      } else if (!satisfies(CORE_VERSION, def.core, { includePrerelease: true })) {
        problem(
          ErrorCodes.PLUGIN_CORE_MISMATCH,
          `plugin "${def.id}" ${def.version} supports @switchyard/core ${def.core}, but the runner has @switchyard/core ${CORE_VERSION}; ` +
            `install a version of the plugin built for core ${CORE_VERSION}`,
        );
      }
      const parsed = def.config.safeParse(entry.options ?? {});
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const path = [base, 'options', ...issue.path.map(String)].join('.');
          problem(ErrorCodes.PLUGIN_CONFIG_INVALID, issue.message, path);
        }
      }
      for (const ev of def.emits ?? []) {
        const owner = this.#options.bus.registry.owner(ev.type);
        if (owner && this.#options.bus.registry.get(ev.type) !== ev) {
          problem(ErrorCodes.EVENT_TYPE_CONFLICT, `event type "${ev.type}" is already defined by ${owner}`);
        }
      }
      loaded.push({
        key: entry.key,
        definition: def,
        options: parsed.success ? parsed.data : entry.options,
        source,
        state: 'registered',
        disposers: [],
      });
    }
    const known = new Set([...ids.keys(), ...this.#plugins.keys()]);
    for (const p of loaded) {
      for (const dep of p.definition.dependsOn ?? []) {
        if (!known.has(dep)) {
          problems.push({
            plugin: p.definition.id,
            path: `plugins.${p.key}`,
            code: ErrorCodes.PLUGIN_DEPENDENCY_MISSING,
            message: `plugin "${p.definition.id}" needs plugin "${dep}"; add it under plugins.${dep}`,
          });
        }
      }
    }
    if (problems.length === 0) {
      try {
        topologicalOrder([
          ...[...this.#plugins.values()].map((p) => p.definition),
          ...loaded.map((p) => p.definition),
        ]);
      } catch (error) {
        problems.push({
          plugin: '(plugins)',
          path: 'plugins',
          code: ErrorCodes.PLUGIN_DEPENDENCY_CYCLE,
          message: (error as Error).message,
        });
      }
    }
    return { problems, loaded };
  }

  /** Sets up and starts every plugin in dependency order. Throws (after stopping the started ones) on failure. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const failures: SwitchyardError[] = [];
    const failed = new Set<string>();
    for (const id of this.#order) {
      const plugin = this.#plugins.get(id)!;
      const blocked = (plugin.definition.dependsOn ?? []).find((d) => failed.has(d));
      if (blocked) {
        failed.add(id);
        plugin.state = 'failed';
        continue;
      }
      plugin.state = 'starting';
      try {
        await this.withTimeout(id, 'setup', async () => {
          plugin.runtime = await plugin.definition.setup(this.contextFor(plugin));
        });
        this.bindActions(plugin);
        await this.withTimeout(id, 'start', async () => plugin.runtime?.start?.());
        plugin.state = 'started';
        this.#options.logger.info({ plugin: id, version: plugin.definition.version }, 'plugin started');
      } catch (error) {
        plugin.state = 'failed';
        plugin.error = error as Error;
        failed.add(id);
        failures.push(
          isSwitchyardError(error) && error.code === ErrorCodes.PLUGIN_START_TIMEOUT
            ? error
            : new PermanentError(
                ErrorCodes.PLUGIN_START_FAILED,
                `plugin "${id}" failed to start: ${(error as Error)?.message ?? String(error)}`,
                { cause: error, details: { plugin: id } },
              ),
        );
      }
    }
    if (failures.length > 0) {
      await this.stop();
      if (failures.length === 1) throw failures[0];
      throw new AggregateError(
        failures,
        `${failures.length} plugins failed to start: ${failures.map((f) => f.message).join('; ')}`,
      );
    }
  }

  /** Stops plugins in reverse dependency order; a failing stop is logged, never thrown. */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    for (const id of [...this.#order].reverse()) {
      const plugin = this.#plugins.get(id)!;
      if (plugin.state !== 'started' && plugin.state !== 'failed' && plugin.state !== 'starting') continue;
      for (const dispose of plugin.disposers.splice(0)) {
        await dispose().catch((error) =>
          this.#options.logger.error({ plugin: id, err: error }, 'stopping subscription failed'),
        );
      }
      try {
        await this.withTimeout(id, 'stop', async () => plugin.runtime?.stop?.(), options.deadlineMs);
      } catch (error) {
        this.#options.logger.error({ plugin: id, err: error }, `plugin "${id}" failed to stop cleanly`);
      }
      plugin.state = 'stopped';
    }
  }

  has(name: string): boolean {
    return this.#actions.has(name);
  }

  spec(name: string): ActionSpec | undefined {
    return this.#actions.get(name)?.spec;
  }

  actionNames(): string[] {
    return [...this.#actions.keys()].sort();
  }

  /**
   * Runs `<plugin>.<action>`: params validated, the recorded result returned instead of running
   * again when the idempotency key already succeeded, errors classified for the bus.
   */
  async invoke(name: string, params: unknown, options: InvokeOptions = {}): Promise<unknown> {
    const action = this.#actions.get(name);
    if (!action) {
      throw new PermanentError(
        ErrorCodes.ACTION_UNKNOWN,
        `unknown action "${name}"; loaded actions: ${this.actionNames().join(', ') || '(none)'}`,
        { details: { action: name } },
      );
    }
    const parsed = action.spec.params.safeParse(params);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${[...i.path].join('.') || '(params)'}: ${i.message}`);
      throw new PermanentError(
        ErrorCodes.ACTION_PARAMS_INVALID,
        `${name} params are invalid: ${issues.join('; ')}`,
        {
          details: { action: name, issues },
        },
      );
    }
    const transport = this.#options.bus.transport;
    if (options.idempotencyKey) {
      const recorded = await transport.idempotency.get(options.idempotencyKey);
      if (recorded) return recorded.result;
    }
    const bus = this.#options.bus;
    const logger = action.logger.child({
      action: name,
      ...(options.cause ? { eventId: options.cause.id, correlationId: options.cause.correlationid } : {}),
    });
    const context: ActionContext = {
      cause: options.cause,
      signal: options.signal ?? new AbortController().signal,
      attempt: options.attempt ?? 1,
      idempotencyKey: options.idempotencyKey,
      logger,
      emit: ((type: string, data: unknown, publishOptions: PublishOptions = {}) =>
        bus.publish(type, data, {
          source: `switchyard/plugin-${action.plugin}`,
          ...publishOptions,
          cause: publishOptions.cause === undefined ? (options.cause ?? null) : publishOptions.cause,
        })) as ActionContext['emit'],
    };
    let result: unknown;
    try {
      result = await action.handler(parsed.data, context);
    } catch (error) {
      if (isSwitchyardError(error)) throw error;
      throw new RetryableError(
        ErrorCodes.HANDLER_FAILED,
        `${name} failed: ${(error as Error)?.message ?? String(error)}`,
        {
          cause: error,
        },
      );
    }
    if (options.idempotencyKey) await transport.idempotency.put(options.idempotencyKey, result ?? null);
    return result;
  }

  /** Webhook routes of started plugins, mounted under /webhooks/<plugin>. */
  routes(): MountedRoute[] {
    const out: MountedRoute[] = [];
    for (const id of this.#order) {
      const plugin = this.#plugins.get(id)!;
      for (const route of plugin.runtime?.routes ?? []) {
        out.push({ ...route, plugin: id, fullPath: `/webhooks/${id}${route.path}` });
      }
    }
    return out;
  }

  plugins(): PluginInfo[] {
    return this.#order.map((id) => {
      const p = this.#plugins.get(id)!;
      const d = p.definition;
      return {
        id,
        version: d.version,
        core: d.core,
        compatible: satisfies(CORE_VERSION, d.core, { includePrerelease: true }),
        source: p.source,
        state: p.state,
        ...(d.description ? { description: d.description } : {}),
        actions: Object.entries(d.actions ?? {}).map(([name, spec]) => ({
          name: `${id}.${name}`,
          ...(spec.description ? { description: spec.description } : {}),
          emits: spec.emits ?? [],
        })),
        emits: (d.emits ?? []).map((e) => e.type),
        subscribes: d.subscribes ?? [],
        routes: (p.runtime?.routes ?? []).map((r) => ({
          method: r.method,
          path: `/webhooks/${id}${r.path}`,
        })),
      };
    });
  }

  /** Ready when every plugin started and reports healthy. */
  async health(): Promise<{ ok: boolean; plugins: Record<string, { ok: boolean; detail?: string }> }> {
    const plugins: Record<string, { ok: boolean; detail?: string }> = {};
    let ok = true;
    for (const [id, p] of this.#plugins) {
      if (p.state !== 'started') {
        plugins[id] = { ok: false, detail: p.state };
        ok = false;
        continue;
      }
      try {
        plugins[id] = (await p.runtime?.health?.()) ?? { ok: true };
      } catch (error) {
        plugins[id] = { ok: false, detail: (error as Error).message };
      }
      if (!plugins[id]!.ok) ok = false;
    }
    return { ok, plugins };
  }

  private contextFor(plugin: LoadedPlugin): PluginContext {
    const o = this.#options;
    const id = plugin.definition.id;
    const logger = o.logger.child({ plugin: id });
    const http = new HttpClient({
      plugin: id,
      dispatcher: o.httpDispatcher,
      metrics: o.metrics,
      clock: o.clock ?? o.bus.clock,
      ...(o.httpTimeoutMs !== undefined ? { timeoutMs: o.httpTimeoutMs } : {}),
    });
    const store = o.bus.transport.kv(`plugin.${id}`);
    const bus = this.pluginBus(plugin);
    const child = (o.container ?? rootContainer).createChildContainer();
    child.register(tokens.BUS, { useValue: bus });
    child.register(tokens.LOGGER, { useValue: logger });
    child.register(tokens.HTTP, { useValue: http });
    child.register(tokens.CLOCK, { useValue: o.clock ?? o.bus.clock });
    child.register(tokens.METRICS, { useValue: o.metrics });
    child.register(tokens.PLUGIN_CONFIG, { useValue: plugin.options });
    child.register(tokens.SECRETS, { useValue: o.secrets });
    child.register(tokens.STORE, { useValue: store });
    child.register(tokens.ACTIONS, { useValue: this });
    child.register(tokens.EVENTS, { useValue: o.bus.registry });
    plugin.container = child;
    return {
      id,
      config: plugin.options,
      bus,
      logger,
      http,
      clock: o.clock ?? o.bus.clock,
      metrics: o.metrics,
      secrets: o.secrets,
      store,
      actions: this,
      events: o.bus.registry,
      container: child,
    };
  }

  private pluginBus(plugin: LoadedPlugin): PluginBus {
    const bus = this.#options.bus;
    const id = plugin.definition.id;
    return {
      publish: ((type: string, data: unknown, options: PublishOptions = {}) =>
        bus.publish(type, data, { source: `switchyard/plugin-${id}`, ...options })) as PluginBus['publish'],
      subscribe: async (options) => {
        const stop = await bus.subscribe({ ...options, id: `plugin:${id}:${options.id}` });
        plugin.disposers.push(stop);
        return stop;
      },
      get: (eventId) => bus.transport.get(eventId),
      query: (filter) => bus.transport.query(filter),
    };
  }

  private bindActions(plugin: LoadedPlugin): void {
    const id = plugin.definition.id;
    const handlers = (plugin.runtime?.actions ?? {}) as Record<string, ActionHandler>;
    const declared = Object.keys(plugin.definition.actions ?? {});
    const missing = declared.filter((name) => typeof handlers[name] !== 'function');
    if (missing.length > 0) {
      throw new PermanentError(
        ErrorCodes.PLUGIN_INVALID,
        `setup() returned no handler for declared action${missing.length > 1 ? 's' : ''} ${missing.map((m) => `${id}.${m}`).join(', ')}`,
      );
    }
    const logger = this.#options.logger.child({ plugin: id });
    for (const name of declared) {
      const registered = this.#actions.get(`${id}.${name}`)!;
      registered.handler = handlers[name]!;
      registered.logger = logger;
    }
  }

  private async withTimeout(
    id: string,
    phase: string,
    fn: () => Promise<unknown>,
    budget?: number,
  ): Promise<void> {
    const ms = budget ?? this.#options.bootTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new PermanentError(
              ErrorCodes.PLUGIN_START_TIMEOUT,
              `plugin "${id}" did not finish ${phase} within ${ms} ms`,
              { details: { plugin: id, phase } },
            ),
          ),
        ms,
      );
    });
    try {
      await Promise.race([fn(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function missingHandler(plugin: string, name: string): ActionHandler {
  return () => {
    throw new RetryableError(
      ErrorCodes.HOST_STATE,
      `action ${plugin}.${name} is not available: plugin "${plugin}" has not started`,
    );
  };
}

/** Accepts `module`, `module.default` and `module.default.default` (CJS/ESM interop). */
export function unwrapPlugin(value: unknown): unknown {
  let current = value;
  for (let i = 0; i < 3; i++) {
    if (current && typeof current === 'object' && 'default' in current && !('setup' in current)) {
      current = (current as { default: unknown }).default;
    } else break;
  }
  return current;
}

function definitionProblems(value: unknown): string[] {
  if (value === undefined || value === null)
    return ['its default export is empty (export the definePlugin() result as default)'];
  if (typeof value !== 'object') return [`its default export is a ${typeof value}, not a plugin definition`];
  const d = value as Record<string, unknown>;
  const out: string[] = [];
  if (typeof d.id !== 'string' || !/^[a-z][a-z0-9-]{0,63}$/.test(d.id)) {
    out.push('id must be a lower-case name (letters, digits, dashes)');
  }
  if (typeof d.version !== 'string') out.push('version must be a string');
  if (typeof d.core !== 'string') out.push('core must be a semver range of @switchyard/core');
  if (typeof (d.config as { safeParse?: unknown } | undefined)?.safeParse !== 'function') {
    out.push('config must be a schema (zod)');
  }
  if (typeof d.setup !== 'function') out.push('setup must be a function');
  if (d.emits !== undefined && !(Array.isArray(d.emits) && d.emits.every(isEventDefinition))) {
    out.push('emits must list defineEvent() results');
  }
  if (d.actions !== undefined) {
    if (typeof d.actions !== 'object' || d.actions === null) out.push('actions must be an object');
    else {
      for (const [name, spec] of Object.entries(d.actions)) {
        if (!/^[a-z][a-zA-Z0-9-]*$/.test(name))
          out.push(`action name "${name}" must start with a lower-case letter`);
        if (typeof (spec as { params?: { safeParse?: unknown } })?.params?.safeParse !== 'function') {
          out.push(`action "${name}" needs a params schema`);
        }
      }
    }
  }
  return out;
}

function topologicalOrder(definitions: readonly PluginDefinition[]): string[] {
  const byId = new Map(definitions.map((d) => [d.id, d]));
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]) => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`plugin dependency cycle: ${[...path, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const dep of byId.get(id)?.dependsOn ?? []) if (byId.has(dep)) visit(dep, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const d of definitions) visit(d.id, []);
  return order;
}

export type { SwitchyardEvent };
