import { findNatsServer, type NatsServer, startNatsServer, transportConformance } from '@switchyard/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { NatsTransport } from './index.js';

// One real nats-server for this file; every test gets fresh streams and buckets (own stream name
// and subject prefix), so no state leaks between tests.
const available = findNatsServer() !== undefined;
let server: NatsServer | undefined;
let n = 0;

describe.skipIf(!available)('NatsTransport against nats-server -js', () => {
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  transportConformance('nats', async () => {
    n++;
    return {
      transport: new NatsTransport({
        servers: [server!.url],
        stream: `CONF_${process.pid}_${n}`,
        name: 'conformance',
      }),
    };
  });
});
