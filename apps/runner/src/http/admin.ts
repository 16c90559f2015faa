// Dead-letter API (bearer token) and the unauthenticated probes: /healthz, /readyz, /metrics.
import type { DeadLetterFilter } from '@switchyard/core';
import type { FastifyInstance } from 'fastify';
import { RunnerErrorCodes } from '../errors.js';
import { badQuery } from './events.js';
import { type ApiIssue, bearerAuth, sendError, sendJson } from './reply.js';
import type { HttpContext } from './server.js';

function dlqFilter(
  input: Record<string, unknown>,
  problems: ApiIssue[],
  allowed: string[],
): DeadLetterFilter {
  const filter: DeadLetterFilter = {};
  for (const [key, value] of Object.entries(input)) {
    if (!allowed.includes(key)) {
      problems.push({ path: key, message: `unknown parameter (allowed: ${allowed.join(', ')})` });
      continue;
    }
    if (key === 'limit') {
      const limit = Number(value);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        problems.push({ path: 'limit', message: 'expected an integer from 1 to 10000' });
      } else filter.limit = limit;
    } else if (key === 'subscription' || key === 'type') {
      if (typeof value !== 'string' || value === '')
        problems.push({ path: key, message: 'expected a non-empty string' });
      else filter[key] = value;
    }
  }
  return filter;
}

export async function dlqRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { secrets } = ctx;
  app.addHook('onRequest', bearerAuth(ctx.server.token, secrets));

  app.get('/dlq', async (request, reply) => {
    const problems: ApiIssue[] = [];
    const filter = dlqFilter(request.query as Record<string, unknown>, problems, [
      'subscription',
      'type',
      'limit',
    ]);
    if (problems.length > 0) return badQuery(reply, problems, secrets);
    const deadLetters = await ctx.transport.deadLetters(filter);
    return sendJson(reply, 200, { deadLetters }, secrets);
  });

  app.post('/dlq/:id/replay', async (request, reply) => {
    const { id } = request.params as { id: string };
    const replayed = await ctx.transport.replayDeadLetters({ id });
    if (replayed === 0) {
      return sendError(
        reply,
        404,
        RunnerErrorCodes.RUNNER_NOT_FOUND,
        `no dead letter with id "${id}"`,
        secrets,
      );
    }
    ctx.logger.info({ deadLetter: id }, 'dead letter replayed');
    return sendJson(reply, 200, { replayed }, secrets);
  });

  app.delete('/dlq/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const dropped = await ctx.transport.dropDeadLetters({ id });
    if (dropped === 0) {
      return sendError(
        reply,
        404,
        RunnerErrorCodes.RUNNER_NOT_FOUND,
        `no dead letter with id "${id}"`,
        secrets,
      );
    }
    ctx.logger.info({ deadLetter: id }, 'dead letter dropped');
    return sendJson(reply, 200, { dropped }, secrets);
  });

  // Bulk replay: a filter (subscription and/or type) or an explicit { "all": true }.
  app.post('/dlq/replay', async (request, reply) => {
    const body = request.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) {
      return badQuery(reply, [{ path: '(body)', message: 'expected a JSON object' }], secrets);
    }
    const { all, ...rest } = body as Record<string, unknown>;
    const problems: ApiIssue[] = [];
    const filter = dlqFilter(rest, problems, ['subscription', 'type']);
    if (all !== undefined && all !== true) problems.push({ path: 'all', message: 'expected true' });
    if (problems.length === 0 && all !== true && !filter.subscription && !filter.type) {
      problems.push({
        path: '(body)',
        message: 'name what to replay: { "subscription": "rule:x" }, { "type": "T" } or { "all": true }',
      });
    }
    if (problems.length > 0) return badQuery(reply, problems, secrets);
    const replayed = await ctx.transport.replayDeadLetters(filter);
    ctx.logger.info({ filter, replayed }, 'dead letters replayed');
    return sendJson(reply, 200, { replayed }, secrets);
  });
}

export async function probeRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get('/healthz', async (_request, reply) => reply.send({ ok: true }));

  app.get('/readyz', async (_request, reply) => {
    const [store, plugins] = await Promise.all([
      ctx.transport.health().catch((error: Error) => ({ ok: false, detail: error.message })),
      ctx.current().core.host.health(),
    ]);
    const ready = ctx.state() === 'running';
    const ok = ready && store.ok && plugins.ok;
    return sendJson(
      reply,
      ok ? 200 : 503,
      { ok, state: ctx.state(), store, plugins: plugins.plugins },
      ctx.secrets,
    );
  });

  app.get('/metrics', async (_request, reply) => {
    const registry = ctx.metrics.registry;
    try {
      ctx.metrics.dlqSize.set((await ctx.transport.deadLetters()).length);
    } catch (error) {
      ctx.logger.warn({ err: (error as Error).message }, 'could not count dead letters for /metrics');
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
