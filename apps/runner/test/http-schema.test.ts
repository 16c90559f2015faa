// The daemon builds Fastify with compiler factories that load ajv and fast-json-stringify only when
// a route has a JSON schema (none does today: requests are validated with zod). A route that does
// declare one must still get Fastify's own validation and serialization.
import { createCore, MemoryTransport, Secrets, SwitchyardMetrics, silentLogger } from '@switchyard/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { serverSchema } from '../src/config/schema.js';
import { createHttpServer } from '../src/http/server.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function server(): Promise<FastifyInstance> {
  const transport = new MemoryTransport();
  const logger = silentLogger();
  const metrics = new SwitchyardMetrics();
  const secrets = new Secrets();
  const core = createCore({ transport, logger, metrics, secrets });
  return createHttpServer({
    server: serverSchema.parse({}),
    transport,
    metrics,
    secrets,
    logger,
    current: () => ({ core }),
    state: () => 'running',
  });
}

describe('routes with a JSON schema', () => {
  it('validate the body with ajv and serialize the reply by the response schema', async () => {
    app = await server();
    app.post(
      '/schema-check',
      {
        schema: {
          body: {
            type: 'object',
            required: ['n'],
            properties: { n: { type: 'integer', minimum: 1 } },
          },
          response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
        },
      },
      async (request) => ({ ...(request.body as object), extra: 'dropped by the serializer' }),
    );
    const ok = await app.inject({ method: 'POST', url: '/schema-check', payload: { n: 3 } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ n: 3 });
    const bad = await app.inject({ method: 'POST', url: '/schema-check', payload: { n: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'SY_RUNNER_BAD_REQUEST' });
    expect(bad.json().error.message).toContain('must be >= 1');
  });
});
