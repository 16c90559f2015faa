import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestHost, FakeJira, type TestHost } from '@switchyard/testing';
import jira from '../index.js';

export const EMAIL = 'switchyard@example.com';
export const TOKEN = 'fake-jira-api-token-0123456789';
export const SECRET = 'webhook-secret-abcdef';

export interface Harness {
  jira: FakeJira;
  host: TestHost;
  /** Real HTTP URL of POST /webhooks/jira (a loopback server in front of the host's routes). */
  webhookUrl: string;
  close(): Promise<void>;
}

/**
 * A fake Jira, a test host with the plugin pointed at it, and a loopback HTTP server that hands
 * the exact bytes and headers it receives to the plugin's webhook route, as the runner does.
 */
export async function harness(options: Record<string, unknown> = {}, fake?: FakeJira): Promise<Harness> {
  const jiraServer = await (fake ?? new FakeJira({ auth: { email: EMAIL, token: TOKEN } })).start();
  const host = await createTestHost({
    plugins: [{ plugin: jira, options: { baseUrl: jiraServer.url, email: EMAIL, token: TOKEN, ...options } }],
    secrets: [TOKEN, SECRET],
  });
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = await host.webhook('jira', {
      method: req.method ?? 'POST',
      path: url.pathname.replace(/^\/webhooks\/jira/, ''),
      headers,
      body: Buffer.concat(chunks),
    });
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    jira: jiraServer,
    host,
    webhookUrl: `http://127.0.0.1:${port}/webhooks/jira`,
    async close() {
      await host.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await jiraServer.stop();
    },
  };
}

/** The error an action invocation rejects with. */
export async function failure(promise: Promise<unknown>): Promise<Record<string, any>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, any>;
  }
  throw new Error('expected the action to fail, but it succeeded');
}
