// The daemon's lifecycle: load → open the store → prepare → start plugins and rules → listen.
// SIGHUP builds a whole new generation (plugins + rules) from the re-read config and swaps it in,
// keeping the store and the HTTP server; an invalid config is rejected and the old one keeps
// running. SIGTERM/SIGINT stop accepting, drain in-flight deliveries within a deadline, close the
// store.
import {
  type Clock,
  createLogger,
  type Logger,
  Secrets,
  SwitchyardMetrics,
  type Transport,
} from '@switchyard/core';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics } from 'prom-client';
import type { Dispatcher } from 'undici';
import { collectConfig, DEFAULT_CONFIG_FILE, type LoadedConfig } from './config/load.js';
import { formatProblem, isConfigError, RunnerError, RunnerErrorCodes } from './errors.js';
import { createHttpServer, type DaemonState } from './http/server.js';
import { loadAndPrepare, type Prepared, prepare } from './prepare.js';
import { startRules } from './rules/run.js';
import { describeStore, openStore } from './store.js';

export interface StartDaemonOptions {
  /** Config file (default ./switchyard.yaml). */
  config?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Where JSON log lines go (default stdout); every line has secrets masked. */
  logDestination?: { write(chunk: string): unknown };
  /** Overrides server.host / server.port (tests listen on port 0). */
  host?: string;
  port?: number;
  /** Installs SIGTERM/SIGINT (drain and exit 0) and SIGHUP (reload) handlers. */
  handleSignals?: boolean;
  clock?: Clock;
  /** Outbound HTTP dispatcher for every plugin (tests). */
  httpDispatcher?: Dispatcher;
}

export interface ReloadResult {
  ok: boolean;
  /** Formatted problems when the new config was rejected. */
  problems?: string[];
  error?: Error;
}

export interface Daemon {
  /** http://host:port the server listens on. */
  readonly url: string;
  readonly port: number;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly metrics: SwitchyardMetrics;
  readonly secrets: Secrets;
  readonly http: FastifyInstance;
  /** The running generation (config, core, rules). */
  current(): Prepared;
  state(): DaemonState;
  reload(): Promise<ReloadResult>;
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

interface Generation {
  prepared: Prepared;
  stopRules: Array<(o?: { deadlineMs?: number }) => Promise<void>>;
}

async function startGeneration(prepared: Prepared, logger: Logger): Promise<Generation> {
  const { core, rules } = prepared;
  await core.host.start();
  try {
    const stopRules = await startRules({ rules, bus: core.bus, host: core.host, logger });
    return { prepared, stopRules };
  } catch (error) {
    await core.host.stop();
    throw error;
  }
}

async function stopGeneration(generation: Generation, deadlineMs: number): Promise<void> {
  const { core } = generation.prepared;
  await Promise.all(generation.stopRules.map((stop) => stop({ deadlineMs })));
  await core.host.stop({ deadlineMs });
  await core.bus.stop({ deadlineMs });
}

export async function startDaemon(options: StartDaemonOptions = {}): Promise<Daemon> {
  const configPath = options.config ?? DEFAULT_CONFIG_FILE;
  const loadOptions = {
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  };
  const secrets = new Secrets();
  const { loaded, problems } = collectConfig(configPath, { ...loadOptions, secrets });
  // Report plugin and rule problems together with the file's own (this throws with all of them).
  if (problems.length > 0) await loadAndPrepare(configPath, { ...loadOptions, secrets });
  const logger = createLogger({
    level: loaded.config.log.level,
    secrets,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const transport = await openStore(loaded.config.store, {
    dir: loaded.dir,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const metrics = new SwitchyardMetrics();
  collectDefaultMetrics({ register: metrics.registry });
  const prepareOptions = {
    transport,
    logger,
    metrics,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.httpDispatcher ? { httpDispatcher: options.httpDispatcher } : {}),
  };

  let generation: Generation;
  try {
    generation = await startGeneration(await prepare(loaded, prepareOptions), logger);
  } catch (error) {
    await transport.close().catch(() => {});
    throw error;
  }
  let state: DaemonState = 'starting';
  const server = { ...loaded.config.server };
  const http = await createHttpServer({
    server,
    transport,
    metrics,
    secrets,
    logger,
    current: () => generation.prepared,
    state: () => state,
  });
  const host = options.host ?? server.host;
  const requestedPort = options.port ?? server.port;
  try {
    await http.listen({ host, port: requestedPort });
  } catch (error) {
    await stopGeneration(generation, 1000);
    await transport.close().catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_LISTEN,
      code === 'EADDRINUSE'
        ? `port ${requestedPort} on ${host} is already in use; stop the other process or change server.port`
        : `cannot listen on ${host}:${requestedPort}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : requestedPort;
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  state = 'running';
  logger.info(
    {
      url,
      store: describeStore(loaded.config.store, loaded.dir),
      plugins: generation.prepared.core.host.plugins().map((p) => `${p.id}@${p.version}`),
      rules: generation.prepared.rules.map((r) => r.name),
      startupMs: Math.round(performance.now()),
      pid: process.pid,
    },
    'switchyard ready',
  );

  let stopping: Promise<void> | undefined;
  let reloading: Promise<ReloadResult> | undefined;

  const reload = async (): Promise<ReloadResult> => {
    if (state !== 'running') {
      return {
        ok: false,
        error: new RunnerError(RunnerErrorCodes.RUNNER_RELOAD_REJECTED, `cannot reload while ${state}`),
      };
    }
    state = 'reloading';
    const previous = generation;
    try {
      let next: Prepared;
      try {
        next = await loadAndPrepare(configPath, { ...loadOptions, secrets }, prepareOptions);
        warnRestartOnly(previous.prepared.loaded, next.loaded, logger);
      } catch (error) {
        const problems = isConfigError(error) ? error.problems.map(formatProblem) : undefined;
        logger.error(
          { problems, err: problems ? undefined : (error as Error).message },
          'reload rejected: the new config is invalid; the old one keeps running',
        );
        return { ok: false, ...(problems ? { problems } : {}), error: error as Error };
      }
      await stopGeneration(previous, server.shutdownTimeout);
      try {
        generation = await startGeneration(next, logger);
      } catch (error) {
        logger.error(
          { err: (error as Error).message },
          'reload failed while starting; restoring the old config',
        );
        generation = await startGeneration(await prepare(previous.prepared.loaded, prepareOptions), logger);
        return { ok: false, error: error as Error };
      }
      logger.level = generation.prepared.loaded.config.log.level;
      logger.info(
        {
          plugins: generation.prepared.core.host.plugins().map((p) => `${p.id}@${p.version}`),
          rules: generation.prepared.rules.map((r) => r.name),
        },
        'config reloaded',
      );
      return { ok: true };
    } finally {
      if (state === 'reloading') state = 'running';
    }
  };

  const stop = (stopOptions: { deadlineMs?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      if (reloading) await reloading.catch(() => {});
      state = 'stopping';
      const deadlineMs = stopOptions.deadlineMs ?? server.shutdownTimeout;
      logger.info({ deadlineMs }, 'stopping: no new requests; draining in-flight deliveries');
      await http.close();
      await stopGeneration(generation, deadlineMs);
      await transport.close({ deadlineMs });
      logger.info('stopped');
      if (options.handleSignals) removeSignals();
    })();
    return stopping;
  };

  const onTerm = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    const hardDeadline = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, server.shutdownTimeout + 5000);
    hardDeadline.unref();
    stop().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onHup = () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading config');
    reloading = reload();
    reloading.finally(() => {
      reloading = undefined;
    });
  };
  const removeSignals = () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onTerm);
    process.off('SIGHUP', onHup);
  };
  if (options.handleSignals) {
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onTerm);
    process.on('SIGHUP', onHup);
  }

  return {
    url,
    port,
    transport,
    logger,
    metrics,
    secrets,
    http,
    current: () => generation.prepared,
    state: () => state,
    reload: () => {
      reloading = reload();
      return reloading;
    },
    stop,
  };
}

function warnRestartOnly(before: LoadedConfig, after: LoadedConfig, logger: Logger): void {
  const changed: string[] = [];
  if (JSON.stringify(before.config.server) !== JSON.stringify(after.config.server)) changed.push('server');
  if (JSON.stringify(before.config.store) !== JSON.stringify(after.config.store)) changed.push('store');
  if (changed.length > 0) {
    logger.warn({ sections: changed }, `changes to ${changed.join(' and ')} take effect after a restart`);
  }
}
