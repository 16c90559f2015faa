import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The version of this copy of @switchyard/core, read from its package.json. */
export const CORE_VERSION: string = (require('../package.json') as { version: string }).version;

interface CoreInstance {
  version: string;
  location: string;
}

const INSTANCES = Symbol.for('switchyard.core.instances');

/**
 * Records this copy of core in a process-wide list. Two copies split registries and DI containers
 * (events published on one are never seen by the other), so the host refuses to start with two.
 */
function registerInstance(): CoreInstance[] {
  const g = globalThis as unknown as Record<symbol, CoreInstance[] | undefined>;
  g[INSTANCES] ??= [];
  const list = g[INSTANCES];
  const location = new URL('..', import.meta.url).pathname;
  if (!list.some((i) => i.location === location)) list.push({ version: CORE_VERSION, location });
  return list;
}

export const CORE_LOCATION: string = new URL('..', import.meta.url).pathname;

export function loadedCoreInstances(): readonly CoreInstance[] {
  return registerInstance();
}

registerInstance();
