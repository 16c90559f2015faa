import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import type { Logger } from '@switchyard/core';
import { NatsErrorCodes, natsPermanent, natsRetryable, redact } from './errors.js';

/** How the transport authenticates; never logged. */
export type NatsCredentials =
  | { user: string; pass: string }
  | { token: string }
  /** Contents of a `.creds` file (JWT + NKey seed), or its path via `credsFile`. */
  | { creds: string }
  | { credsFile: string };

export interface ConnectionOptions {
  servers: string | readonly string[];
  credentials?: NatsCredentials;
  name?: string;
  logger?: Logger;
  /** Upper bound of the reconnect backoff. Default 5 s. */
  maxReconnectDelayMs?: number;
}

/**
 * One NATS connection that reconnects forever with exponential backoff (250 ms doubling up to
 * `maxReconnectDelayMs`, with jitter) and tracks whether it is currently connected.
 */
export class Connection {
  readonly nc: NatsConnection;
  #connected = true;
  #since = Date.now();
  #lastError: string | undefined;

  private constructor(nc: NatsConnection, logger: Logger | undefined) {
    this.nc = nc;
    void this.watch(logger);
  }

  static async open(options: ConnectionOptions): Promise<Connection> {
    const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
    if (servers.length === 0) {
      throw natsPermanent(
        NatsErrorCodes.CONFIG_INVALID,
        'store.servers is empty: list at least one NATS URL (e.g. nats://127.0.0.1:4222)',
      );
    }
    let attempt = 0;
    const maxDelay = options.maxReconnectDelayMs ?? 5_000;
    const connectOptions: NodeConnectionOptions = {
      servers,
      name: options.name ?? 'switchyard',
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () => {
        const base = Math.min(maxDelay, 250 * 2 ** Math.min(attempt++, 10));
        return Math.round(base * (0.8 + Math.random() * 0.4));
      },
      pingInterval: 10_000,
      maxPingOut: 2,
      // nats.js otherwise captures two stack traces per request (publish acks, KV calls): 30-37 % of
      // a publisher's CPU in bench/nats.ts. Our errors carry their own codes and context instead.
      noAsyncTraces: true,
      ...authOptions(options.credentials),
    };
    let nc: NatsConnection;
    try {
      nc = await connect(connectOptions);
    } catch (error) {
      throw natsRetryable(
        NatsErrorCodes.CONNECT,
        `cannot connect to NATS at ${servers.map((s) => redact(s)).join(', ')} (check store.servers, that nats-server runs with -js, and store.credentials)`,
        error,
      );
    }
    const connection = new Connection(nc, options.logger);
    connection.#resetBackoff = () => {
      attempt = 0;
    };
    return connection;
  }

  #resetBackoff: () => void = () => {};

  get connected(): boolean {
    return this.#connected && !this.nc.isClosed();
  }

  /** Where the connection stands, for /readyz. */
  status(): { ok: boolean; detail?: string } {
    if (this.nc.isClosed()) return { ok: false, detail: 'NATS connection closed' };
    if (!this.#connected) {
      const secs = Math.round((Date.now() - this.#since) / 1000);
      return {
        ok: false,
        detail: `disconnected from NATS for ${secs}s; reconnecting${this.#lastError ? ` (last error: ${this.#lastError})` : ''}`,
      };
    }
    return { ok: true, detail: `connected to ${redact(this.nc.getServer())}` };
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }

  private async watch(logger: Logger | undefined): Promise<void> {
    for await (const s of this.nc.status()) {
      switch (s.type) {
        case 'disconnect':
          if (this.#connected) this.#since = Date.now();
          this.#connected = false;
          logger?.warn({ server: redact(s.server) }, 'NATS disconnected; reconnecting');
          break;
        case 'reconnect':
          this.#connected = true;
          this.#since = Date.now();
          this.#lastError = undefined;
          this.#resetBackoff();
          logger?.info({ server: redact(s.server) }, 'NATS reconnected');
          break;
        case 'error':
          this.#lastError = redact(String(s.error?.message ?? s.error));
          logger?.warn({ err: this.#lastError }, 'NATS connection error');
          break;
        default:
          break;
      }
    }
    this.#connected = false;
  }
}

function authOptions(credentials: NatsCredentials | undefined): Partial<NodeConnectionOptions> {
  if (!credentials) return {};
  if ('token' in credentials) return { token: credentials.token };
  if ('user' in credentials) return { user: credentials.user, pass: credentials.pass };
  if ('creds' in credentials)
    return { authenticator: credsAuthenticator(new TextEncoder().encode(credentials.creds)) };
  if ('credsFile' in credentials) {
    let text: string;
    try {
      text = readFileSync(credentials.credsFile, 'utf8');
    } catch (error) {
      throw natsPermanent(
        NatsErrorCodes.CONFIG_INVALID,
        `cannot read store.credentials.credsFile ${credentials.credsFile} (check the path and its permissions)`,
        error,
      );
    }
    return { authenticator: credsAuthenticator(new TextEncoder().encode(text)) };
  }
  throw natsPermanent(
    NatsErrorCodes.CONFIG_INVALID,
    'store.credentials must hold { user, pass }, { token }, { creds } or { credsFile }',
  );
}
