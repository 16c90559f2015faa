import { Bus } from './bus.js';
import { type Clock, systemClock } from './clock.js';
import { builtinEvents } from './events/builtin.js';
import { EventRegistry } from './events/registry.js';
import { PluginHost, type PluginHostOptions } from './host.js';
import { type Logger, silentLogger } from './logger.js';
import { MemoryTransport } from './memory-transport.js';
import { SwitchyardMetrics } from './metrics.js';
import { Secrets } from './secrets.js';
import type { Transport } from './transport.js';

export interface CoreOptions {
  transport?: Transport;
  clock?: Clock;
  logger?: Logger;
  metrics?: SwitchyardMetrics;
  secrets?: Secrets;
  host?: Omit<PluginHostOptions, 'bus' | 'logger' | 'metrics' | 'secrets' | 'clock'>;
}

export interface Core {
  registry: EventRegistry;
  bus: Bus;
  host: PluginHost;
  transport: Transport;
  clock: Clock;
  logger: Logger;
  metrics: SwitchyardMetrics;
  secrets: Secrets;
}

/** Wires registry (with the built-in events), bus and plugin host over one transport. */
export function createCore(options: CoreOptions = {}): Core {
  const clock = options.clock ?? systemClock;
  const transport = options.transport ?? new MemoryTransport({ clock });
  const logger = options.logger ?? silentLogger();
  const metrics = options.metrics ?? new SwitchyardMetrics();
  const secrets = options.secrets ?? new Secrets();
  const registry = new EventRegistry();
  for (const def of builtinEvents) registry.register(def, 'core');
  const bus = new Bus({ transport, registry, clock, logger, metrics });
  const host = new PluginHost({ ...options.host, bus, logger, metrics, secrets, clock });
  return { registry, bus, host, transport, clock, logger, metrics, secrets };
}
