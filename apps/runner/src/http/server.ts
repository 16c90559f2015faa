// The daemon's HTTP surface on Fastify: webhooks, the CloudEvents ingest, the read and DLQ API and
// the probes. One error shape everywhere: { error: { code, message, issues? } }, secrets masked.
import { createRequire } from 'node:module';
import {
  type Core,
  isSwitchyardError,
  type Logger,
  type Secrets,
  type SwitchyardMetrics,
  type Transport,
} from '@switchyard/core';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ServerConfig } from '../config/schema.js';
import { RunnerErrorCodes } from '../errors.js';
import { dlqRoutes, probeRoutes } from './admin.js';
import { eventRoutes } from './events.js';
import { sendError } from './reply.js';
import { webhookRoutes } from './webhooks.js';

export type DaemonState = 'starting' | 'running' | 'reloading' | 'stopping';

export interface HttpContext {
  server: ServerConfig;
  transport: Transport;
  metrics: SwitchyardMetrics;
  secrets: Secrets;
  logger: Logger;
  /** The running generation (plugins, rules, registry); replaced by a reload. */
  current(): { core: Core };
  state(): DaemonState;
}

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type ValidatorBuilder = NonNullable<CompilersFactory['buildValidator']>;
type SerializerBuilder = NonNullable<CompilersFactory['buildSerializer']>;

// Fastify requires its JSON-schema compilers (ajv, fast-json-stringify) when an instance is built,
// ~40 ms and a few MB of the daemon's start, although no route here has a schema: requests are
// validated with zod. These factories load Fastify's own compilers the first time a route with a
// schema needs one (resolved from Fastify's folder, whose dependencies they are), so behaviour is
// unchanged if one is ever added.
const fromFastify = createRequire(import.meta.resolve('fastify'));
let validatorBuilder: ValidatorBuilder | undefined;
let serializerBuilder: SerializerBuilder | undefined;
const lazyCompilers: CompilersFactory = {
  buildValidator: (externalSchemas, options) => {
    validatorBuilder ??= (fromFastify('@fastify/ajv-compiler') as () => ValidatorBuilder)();
    return validatorBuilder(externalSchemas, options);
  },
  buildSerializer: (externalSchemas, options) => {
    serializerBuilder ??= (fromFastify('@fastify/fast-json-stringify-compiler') as () => SerializerBuilder)();
    return serializerBuilder(externalSchemas, options);
  },
};

export async function createHttpServer(ctx: HttpContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.server.bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    schemaController: { compilersFactory: lazyCompilers },
  });
  const { secrets } = ctx;

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      404,
      RunnerErrorCodes.RUNNER_NOT_FOUND,
      `no route ${request.method} ${request.url.split('?')[0]}; the API is POST/GET /events, GET /events/:id, GET /events/:id/trace, GET /dlq, POST /dlq/:id/replay, DELETE /dlq/:id, POST /dlq/replay, /webhooks/<plugin>/…, /healthz, /readyz, /metrics`,
      secrets,
    ),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      return sendError(
        reply,
        413,
        RunnerErrorCodes.RUNNER_BODY_TOO_LARGE,
        error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `the body is larger than server.bodyLimit (${ctx.server.bodyLimit} bytes)`
          : error.message,
        secrets,
      );
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
      return sendError(
        reply,
        415,
        RunnerErrorCodes.RUNNER_UNSUPPORTED_MEDIA_TYPE,
        `content type "${request.headers['content-type'] ?? '(none)'}" is not accepted; send application/cloudevents+json (structured mode) or application/json with ce-* headers (binary mode)`,
        secrets,
      );
    }
    if (status >= 400 && status < 500) {
      return sendError(reply, status, RunnerErrorCodes.RUNNER_BAD_REQUEST, error.message, secrets);
    }
    const transportClosed = (error as { code?: string }).code === 'SY_TRANSPORT_CLOSED';
    if (!transportClosed && isSwitchyardError(error) && error.retryable) {
      // The store could not take or answer the request (NATS unreachable, SQLite busy): nothing was
      // stored or the store dedupes the retry, so the sender should try again, not give up.
      ctx.logger.warn({ err: error, method: request.method, url: request.url }, 'store unavailable');
      const seconds = Math.max(1, Math.ceil((error.retryAfterMs ?? 5_000) / 1_000));
      reply.header('retry-after', String(seconds));
      return sendError(
        reply,
        503,
        RunnerErrorCodes.RUNNER_STORE_UNAVAILABLE,
        `the store is unavailable (${error.code}); retry in ${seconds} s, the same event id is stored once`,
        secrets,
      );
    }
    ctx.logger.error({ err: error, method: request.method, url: request.url }, 'request failed');
    return sendError(
      reply,
      transportClosed ? 503 : 500,
      transportClosed ? RunnerErrorCodes.RUNNER_NOT_READY : RunnerErrorCodes.RUNNER_INTERNAL,
      transportClosed
        ? 'the store is closed (the daemon is stopping); retry later'
        : 'internal error; the daemon log has the details',
      secrets,
    );
  });

  await app.register(async (scope) => probeRoutes(scope, ctx));
  await app.register(async (scope) => eventRoutes(scope, ctx));
  await app.register(async (scope) => dlqRoutes(scope, ctx));
  await app.register(async (scope) => webhookRoutes(scope, ctx));
  return app;
}
