// Plugin webhook routes under /webhooks/<plugin>/…, looked up per request in the running generation
// so a SIGHUP reload can change plugins without restarting the HTTP server. The raw bytes reach the
// plugin untouched (signatures), limited per route.
import type { MountedRoute, WebhookRequest } from '@switchyard/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RunnerErrorCodes } from '../errors.js';
import { bearerAuth, sendError } from './reply.js';
import type { HttpContext } from './server.js';

export const DEFAULT_WEBHOOK_BODY_LIMIT = 1024 * 1024;

/** Paths DESIGN.md promises that plugins mount elsewhere. */
const ALIASES: Record<string, string> = {
  '/webhooks/alertmanager': '/webhooks/prometheus/alertmanager',
};

const ROUTE = Symbol('switchyard.webhookRoute');
type WithRoute = FastifyRequest & { [ROUTE]?: MountedRoute };

class BodyTooLarge extends Error {
  readonly statusCode = 413;
  readonly code = 'SY_RUNNER_BODY_TOO_LARGE';
}

function find(ctx: HttpContext, method: string, url: string): { route?: MountedRoute; allowed: string[] } {
  const path = url.split('?')[0]!.replace(/\/+$/, '') || '/';
  const target =
    ALIASES[path] &&
    !ctx
      .current()
      .core.host.routes()
      .some((r) => r.fullPath === path)
      ? ALIASES[path]
      : path;
  const matches = ctx
    .current()
    .core.host.routes()
    .filter((r) => r.fullPath.replace(/\/+$/, '') === target);
  const route = matches.find((r) => r.method === method);
  return { ...(route ? { route } : {}), allowed: matches.map((r) => r.method) };
}

export async function webhookRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { secrets } = ctx;
  const tokenCheck = bearerAuth(ctx.server.token, secrets);
  app.removeAllContentTypeParsers();
  // Any content type: the exact bytes, counted against the route's own limit while they arrive.
  app.addContentTypeParser('*', (request, payload, done) => {
    const limit = (request as WithRoute)[ROUTE]?.bodyLimit ?? DEFAULT_WEBHOOK_BODY_LIMIT;
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    payload.on('data', (chunk: Buffer) => {
      if (finished) return;
      size += chunk.length;
      if (size > limit) {
        finished = true;
        payload.removeAllListeners('data');
        payload.resume();
        done(new BodyTooLarge(`the body is larger than this webhook's limit of ${limit} bytes`), undefined);
        return;
      }
      chunks.push(chunk);
    });
    payload.on('end', () => {
      if (!finished) {
        finished = true;
        done(null, Buffer.concat(chunks, size));
      }
    });
    payload.on('error', (error) => {
      if (!finished) {
        finished = true;
        done(error, undefined);
      }
    });
  });

  app.addHook('onRequest', async (request: WithRoute, reply: FastifyReply) => {
    const { route, allowed } = find(ctx, request.method, request.url);
    if (!route) {
      if (allowed.length > 0) {
        reply.header('allow', allowed.join(', '));
        return sendError(
          reply,
          405,
          RunnerErrorCodes.RUNNER_METHOD_NOT_ALLOWED,
          `${request.method} is not allowed here; use ${allowed.join(' or ')}`,
          secrets,
        );
      }
      const known = ctx
        .current()
        .core.host.routes()
        .map((r) => `${r.method} ${r.fullPath}`);
      return sendError(
        reply,
        404,
        RunnerErrorCodes.RUNNER_NOT_FOUND,
        `no webhook route ${request.method} ${request.url.split('?')[0]}; ${
          known.length > 0 ? `routes: ${known.join(', ')}` : 'no loaded plugin has webhook routes'
        }`,
        secrets,
      );
    }
    const limit = route.bodyLimit ?? DEFAULT_WEBHOOK_BODY_LIMIT;
    const length = Number(request.headers['content-length']);
    if (Number.isFinite(length) && length > limit) {
      return sendError(
        reply,
        413,
        RunnerErrorCodes.RUNNER_BODY_TOO_LARGE,
        `the body is larger than this webhook's limit of ${limit} bytes`,
        secrets,
      );
    }
    request[ROUTE] = route;
    // Operator routes (a plugin's run lists, logs, manual triggers) need the API token like the
    // rest of the API; routes for outside systems authenticate with their own signatures.
    if (route.auth === 'token') return tokenCheck(request, reply);
  });

  const handler = async (request: WithRoute, reply: FastifyReply) => {
    const route = request[ROUTE]!;
    const url = new URL(request.url, 'http://switchyard.invalid');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const webhookRequest: WebhookRequest = {
      method: request.method,
      path: route.path,
      headers,
      query,
      rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      ...(request.ip ? { remoteAddress: request.ip } : {}),
    };
    let response: Awaited<ReturnType<MountedRoute['handler']>>;
    try {
      response = await route.handler(webhookRequest);
    } catch (error) {
      ctx.logger.error(
        { plugin: route.plugin, route: `${route.method} ${route.fullPath}`, err: error },
        'webhook handler failed',
      );
      return sendError(
        reply,
        500,
        RunnerErrorCodes.RUNNER_WEBHOOK_FAILED,
        `the ${route.plugin} webhook failed; the daemon log has the details`,
        secrets,
      );
    }
    reply.code(response.status);
    for (const [k, v] of Object.entries(response.headers ?? {})) reply.header(k, v);
    const body = response.body;
    if (body === undefined || body === null) return reply.send();
    if (typeof body === 'string') {
      if (!reply.hasHeader('content-type')) reply.type('text/plain; charset=utf-8');
      return reply.send(secrets.redact(body));
    }
    if (Buffer.isBuffer(body)) return reply.send(body);
    return reply.type('application/json; charset=utf-8').send(secrets.redactValue(body));
  };

  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'],
    url: '/webhooks/*',
    // Enforced per route by the parser above; this only stops Fastify's own cap from interfering.
    bodyLimit: 64 * 1024 * 1024,
    handler,
  });
}
