// Opens the transport `store:` names. SQLite and NATS are imported only when chosen, so a daemon on
// the memory store (tests) or on SQLite never loads the NATS client.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import {
  type Clock,
  isSwitchyardError,
  type Logger,
  MemoryTransport,
  type Transport,
} from '@switchyard/core';
import type { NatsStoreConfig, StoreConfig } from './config/schema.js';
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
    transport = new Nats(natsOptions(store, options));
  }
  try {
    await transport.open();
  } catch (error) {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_STORE,
      // The transport's own code (SY_NATS_CONNECT, SY_SQLITE_…) points at its documented fix.
      `cannot open the ${store.kind} store: ${(error as Error).message}${
        isSwitchyardError(error) ? ` (${error.code})` : ''
      }`,
      { cause: error },
    );
  }
  return transport;
}

/** NatsTransport's options from `store:`; a `.creds` path is resolved against the config file. */
export function natsOptions(
  store: NatsStoreConfig,
  options: { dir: string; logger?: Logger; clock?: Clock },
): Record<string, unknown> {
  return {
    servers: store.servers,
    name: store.name ?? `${hostname()}:${process.pid}`,
    ...(options.logger ? { logger: options.logger.child({ component: 'store' }) } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(store.stream !== undefined ? { stream: store.stream } : {}),
    ...(store.subjectPrefix !== undefined ? { subjectPrefix: store.subjectPrefix } : {}),
    ...(store.replicas !== undefined ? { replicas: store.replicas } : {}),
    ...(store.ackWait !== undefined ? { ackWaitMs: store.ackWait } : {}),
    ...(store.duplicateWindow !== undefined ? { duplicateWindowMs: store.duplicateWindow } : {}),
    ...(store.maxAge !== undefined ? { maxAgeMs: store.maxAge } : {}),
    ...(store.maxAckPending !== undefined ? { maxAckPending: store.maxAckPending } : {}),
    ...(store.credentials !== undefined
      ? { credentials: natsCredentials(store.credentials, options.dir) }
      : {}),
  };
}

function natsCredentials(
  credentials: NonNullable<NatsStoreConfig['credentials']>,
  dir: string,
): { credsFile: string } | { token: string } | { user: string; pass: string } {
  if (typeof credentials === 'string') {
    const credsFile = resolve(dir, credentials);
    try {
      accessSync(credsFile, constants.R_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new RunnerError(
        RunnerErrorCodes.RUNNER_STORE,
        `cannot read the NATS credentials file ${credsFile} named by store.credentials (${
          code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code
        }); paths are relative to the config file`,
      );
    }
    return { credsFile };
  }
  if (credentials.token !== undefined) return { token: credentials.token };
  // The schema guarantees both halves when there is no token.
  return { user: credentials.user!, pass: credentials.password! };
}

/** A one-line description for logs and `check`; never shows credentials. */
export function describeStore(store: StoreConfig, dir: string): string {
  if (store.kind === 'sqlite') return `sqlite ${resolve(dir, store.path)}`;
  if (store.kind === 'nats') {
    const servers = [store.servers].flat().map(withoutUserinfo).join(',');
    return `nats ${servers} stream ${store.stream ?? 'SWITCHYARD_EVENTS'}${
      store.replicas !== undefined ? ` replicas ${store.replicas}` : ''
    }`;
  }
  return 'memory (nothing survives a restart)';
}

/** `nats://user:pass@host` → `nats://***@host`; also `user:pass@host` without a scheme. */
function withoutUserinfo(server: string): string {
  return server.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?)[^@/\s]*@/i, '$1***@');
}
