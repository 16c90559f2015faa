// POST /events (CloudEvents HTTP binding, structured and binary mode) and the event read API.
import {
  type EventQuery,
  EventValidationError,
  isSwitchyardError,
  type Secrets,
  type Transport,
} from '@switchyard/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RunnerErrorCodes } from '../errors.js';
import { type ApiIssue, bearerAuth, sendError, sendJson } from './reply.js';
import type { HttpContext } from './server.js';

const STRUCTURED = 'application/cloudevents+json';

export async function eventRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const { secrets } = ctx;
  app.addHook('onRequest', bearerAuth(ctx.server.token, secrets));
  // Raw bytes for both modes: the runner parses JSON itself to name the problem precisely.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([STRUCTURED, 'application/json'], { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  app.post('/events', { bodyLimit: ctx.server.bodyLimit }, async (request, reply) => {
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const body = request.body as Buffer | undefined;
    let raw: unknown;
    let issues: ApiIssue[] = [];
    const text = body && body.length > 0 ? body.toString('utf8') : undefined;
    let data: unknown;
    if (text !== undefined) {
      try {
        data = JSON.parse(text);
      } catch (error) {
        return sendError(
          reply,
          400,
          RunnerErrorCodes.RUNNER_BAD_REQUEST,
          `the body is not valid JSON: ${(error as Error).message}`,
          secrets,
        );
      }
    }
    if (contentType === STRUCTURED) {
      if (data === null || typeof data !== 'object' || Array.isArray(data)) {
        return sendError(
          reply,
          400,
          RunnerErrorCodes.RUNNER_BAD_REQUEST,
          'structured mode needs the whole event as a JSON object (specversion, id, source, type, data)',
          secrets,
        );
      }
      raw = data;
    } else {
      // Binary mode: attributes in ce-* headers, the body is the data.
      const attributes: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (!name.startsWith('ce-') || typeof value !== 'string') continue;
        attributes[name.slice(3)] = decodeHeader(value);
      }
      if (Object.keys(attributes).length === 0) {
        return sendError(
          reply,
          400,
          RunnerErrorCodes.RUNNER_BAD_REQUEST,
          'binary mode needs ce-specversion, ce-id, ce-source and ce-type headers; or send the whole event as application/cloudevents+json',
          secrets,
        );
      }
      raw = { ...attributes, datacontenttype: 'application/json', data };
    }
    try {
      const result = await ctx.current().core.bus.publishEnvelope(raw);
      return reply.code(202).send({ id: result.event.id, duplicate: result.duplicate });
    } catch (error) {
      if (
        error instanceof EventValidationError ||
        (isSwitchyardError(error) && error.code === 'SY_EVENT_INVALID')
      ) {
        issues = ((error as EventValidationError).issues ?? []).map((i) => ({
          path: contentType === STRUCTURED || i.path.startsWith('data') ? i.path : `ce-${i.path}`,
          message: i.message,
        }));
        return sendError(
          reply,
          400,
          'SY_EVENT_INVALID',
          `the event is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
          secrets,
          issues,
        );
      }
      throw error;
    }
  });

  app.get('/events', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const problems: ApiIssue[] = [];
    const filter: EventQuery = {};
    if (q.type) filter.type = q.type;
    if (q.subject) filter.subject = q.subject;
    if (q.correlation) filter.correlationId = q.correlation;
    for (const key of ['since', 'until'] as const) {
      const value = q[key];
      if (value === undefined) continue;
      const time = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
      if (Number.isNaN(time))
        problems.push({ path: key, message: 'expected an ISO time or epoch milliseconds' });
      else filter[key] = new Date(time).toISOString();
    }
    filter.limit = 100;
    if (q.limit !== undefined) {
      const limit = Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        problems.push({ path: 'limit', message: 'expected an integer from 1 to 1000' });
      } else filter.limit = limit;
    }
    if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') {
      problems.push({ path: 'order', message: 'expected asc or desc' });
    }
    if (q.order === 'desc') filter.newestFirst = true;
    const unknown = Object.keys(q).filter(
      (k) => !['type', 'subject', 'correlation', 'since', 'until', 'limit', 'order'].includes(k),
    );
    for (const k of unknown) {
      problems.push({
        path: k,
        message: 'unknown query parameter (type, subject, correlation, since, until, limit, order)',
      });
    }
    if (problems.length > 0) return badQuery(reply, problems, secrets);
    const events = await ctx.transport.query(filter);
    return sendJson(reply, 200, { events }, secrets);
  });

  app.get('/events/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const event = await ctx.transport.get(id);
    if (!event) return notFound(reply, id, secrets);
    return sendJson(reply, 200, { event }, secrets);
  });

  app.get('/events/:id/trace', async (request, reply) => {
    const { id } = request.params as { id: string };
    const events = await ctx.transport.trace(id);
    if (!events) return notFound(reply, id, secrets);
    const deliveries = (await Promise.all(events.map((e) => ctx.transport.deliveries(e.id)))).flat();
    return sendJson(reply, 200, { id, events, deliveries }, secrets);
  });
}

function decodeHeader(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function badQuery(reply: FastifyReply, problems: ApiIssue[], secrets: Secrets): FastifyReply {
  return sendError(
    reply,
    400,
    RunnerErrorCodes.RUNNER_BAD_REQUEST,
    problems.map((p) => `${p.path}: ${p.message}`).join('; '),
    secrets,
    problems,
  );
}

function notFound(reply: FastifyReply, id: string, secrets: Secrets): FastifyReply {
  return sendError(reply, 404, RunnerErrorCodes.RUNNER_NOT_FOUND, `no event with id "${id}"`, secrets);
}

export type { Transport };
