import type { InjectionToken } from 'tsyringe';
import type { Clock } from './clock.js';
import type { EventRegistry } from './events/registry.js';
import type { HttpClient } from './http.js';
import type { Logger } from './logger.js';
import type { SwitchyardMetrics } from './metrics.js';
import type { ActionInvoker, PluginBus } from './plugin.js';
import type { Secrets } from './secrets.js';
import type { KeyValueStore } from './transport.js';

// DI tokens for what the host gives each plugin, registered in the plugin's child container.
// Strings rather than classes: they survive esbuild-based builds (no decorator metadata) and
// match across copies of this package. Use them with explicit `@inject(TOKEN)`.

export const BUS: InjectionToken<PluginBus> = 'switchyard:bus';
export const LOGGER: InjectionToken<Logger> = 'switchyard:logger';
export const HTTP: InjectionToken<HttpClient> = 'switchyard:http';
export const CLOCK: InjectionToken<Clock> = 'switchyard:clock';
export const METRICS: InjectionToken<SwitchyardMetrics> = 'switchyard:metrics';
/** The plugin's validated options. */
export const PLUGIN_CONFIG: InjectionToken<unknown> = 'switchyard:plugin-config';
export const SECRETS: InjectionToken<Secrets> = 'switchyard:secrets';
/** The plugin's own key-value namespace in the transport. */
export const STORE: InjectionToken<KeyValueStore> = 'switchyard:store';
/** Invokes other plugins' actions (`jira.transition` from the pipeline plugin…). */
export const ACTIONS: InjectionToken<ActionInvoker> = 'switchyard:actions';
export const EVENTS: InjectionToken<EventRegistry> = 'switchyard:events';
