// Opens the transport `store:` names. SQLite and NATS are imported only when chosen, so a daemon on
// the memory store (tests) or on SQLite never loads the NATS client.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Clock, type Logger, MemoryTransport, type Transport } from '@switchyard/core';
import type { StoreConfig } from './config/schema.js';
import { RunnerError, RunnerErrorCodes } from './errors.js';

type TransportClass = new (options: Record<string, unknown>) => Transport;

async function importTransport(pkg: string, exportName: string, kind: string): Promise<TransportClass> {
  let module: Record<string, unknown>;
  try {
    // A variable specifier keeps bundlers and tsc from requiring the optional package at build time.
    const specifier: string = pkg;
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new RunnerError(
        RunnerErrorCodes.RUNNER_STORE,
        `store.kind ${kind} needs the package ${pkg}, which is not installed; run: npm install ${pkg}`,
        { cause: error },
      );
    }
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_STORE,
      `loading ${pkg} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const ctor = module[exportName];
  if (typeof ctor !== 'function') {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_STORE,
      `${pkg} does not export ${exportName}; install a version of ${pkg} that matches this runner`,
    );
  }
  return ctor as TransportClass;
}

/** Creates and opens the configured transport. Paths are relative to the config file's directory. */
export async function openStore(
  store: StoreConfig,
  options: { dir: string; logger: Logger; clock?: Clock },
): Promise<Transport> {
  let transport: Transport;
  if (store.kind === 'memory') {
    transport = new MemoryTransport(options.clock ? { clock: options.clock } : {});
  } else if (store.kind === 'sqlite') {
    const Sqlite = await importTransport('@switchyard/store-sqlite', 'SqliteTransport', 'sqlite');
    const path = resolve(options.dir, store.path);
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw new RunnerError(
        RunnerErrorCodes.RUNNER_STORE,
        `cannot create the directory of store.path ${path}: ${(error as Error).message}`,
      );
    }
    transport = new Sqlite({
      path,
      logger: options.logger.child({ component: 'store' }),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(store.synchronous ? { synchronous: store.synchronous } : {}),
      ...(store.retention
        ? {
            retention: {
              ...(store.retention.maxAge !== undefined ? { maxAgeMs: store.retention.maxAge } : {}),
              ...(store.retention.maxEvents !== undefined ? { maxEvents: store.retention.maxEvents } : {}),
              ...(store.retention.interval !== undefined ? { intervalMs: store.retention.interval } : {}),
            },
          }
        : {}),
      ...(store.maxSize !== undefined ? { maxSizeBytes: store.maxSize } : {}),
    });
  } else {
    const Nats = await importTransport('@switchyard/transport-nats', 'NatsTransport', 'nats');
    transport = new Nats({
      servers: store.servers,
      logger: options.logger.child({ component: 'store' }),
      ...(store.stream ? { stream: store.stream } : {}),
      ...(store.credentials ? { credentials: resolve(options.dir, store.credentials) } : {}),
    });
  }
  try {
    await transport.open();
  } catch (error) {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_STORE,
      `cannot open the ${store.kind} store: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return transport;
}

/** A one-line description for logs and `check`. */
export function describeStore(store: StoreConfig, dir: string): string {
  if (store.kind === 'sqlite') return `sqlite ${resolve(dir, store.path)}`;
  if (store.kind === 'nats') return `nats ${[store.servers].flat().join(',')}`;
  return 'memory (nothing survives a restart)';
}
