import { createHash, timingSafeEqual } from 'node:crypto';
import type { Secrets } from '@switchyard/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RunnerErrorCodes } from '../errors.js';

export interface ApiIssue {
  path: string;
  message: string;
}

/** The one error shape every route answers with. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  secrets: Secrets,
  issues?: ApiIssue[],
): FastifyReply {
  const error: Record<string, unknown> = { code, message: secrets.redact(message) };
  if (issues) error.issues = issues.map((i) => ({ path: i.path, message: secrets.redact(i.message) }));
  return reply.code(status).type('application/json; charset=utf-8').send({ error });
}

/** JSON answer with every secret value masked. */
export function sendJson(reply: FastifyReply, status: number, body: unknown, secrets: Secrets): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(secrets.size > 0 ? secrets.redact(JSON.stringify(body)) : JSON.stringify(body));
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** onRequest hook: `Authorization: Bearer <server.token>`; 401 when absent, 403 when wrong. */
export function bearerAuth(token: string | undefined, secrets: Secrets) {
  const expected = token === undefined ? undefined : digest(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!expected) return;
    const header = request.headers.authorization;
    if (!header) {
      reply.header('www-authenticate', 'Bearer realm="switchyard"');
      return sendError(
        reply,
        401,
        RunnerErrorCodes.RUNNER_UNAUTHORIZED,
        'missing bearer token: send Authorization: Bearer <server.token>',
        secrets,
      );
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) {
      reply.header('www-authenticate', 'Bearer realm="switchyard"');
      return sendError(
        reply,
        401,
        RunnerErrorCodes.RUNNER_UNAUTHORIZED,
        'the Authorization header must be "Bearer <server.token>"',
        secrets,
      );
    }
    if (!timingSafeEqual(digest(match[1]!), expected)) {
      return sendError(
        reply,
        403,
        RunnerErrorCodes.RUNNER_FORBIDDEN,
        'the bearer token is wrong; use the value of server.token',
        secrets,
      );
    }
  };
}
