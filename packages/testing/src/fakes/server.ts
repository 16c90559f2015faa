import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  /** Parsed JSON body, when the body is JSON. */
  json: unknown;
  at: number;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A fault to inject into the next matching request(s). */
export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'delay'; ms: number }
  | { kind: 'reset' }
  | { kind: 'hang' };

interface QueuedFault {
  fault: Fault;
  remaining: number;
  match?: (req: FakeRequest) => boolean;
}

export type FakeHandler = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

/**
 * The loopback HTTP server under every fake (Jira, DingTalk, Slack): records requests, injects
 * faults (an HTTP status, a delay, a connection reset, a hang), and hands the rest to the fake's
 * protocol handler. Listens on 127.0.0.1 and a free port unless told otherwise.
 */
export class FakeHttpServer {
  readonly requests: FakeRequest[] = [];
  readonly #faults: QueuedFault[] = [];
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #url = '';

  constructor(private readonly handler: FakeHandler) {}

  get url(): string {
    if (!this.#url) throw new Error('fake server not started; call start() first');
    return this.#url;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    this.#server = server;
    this.#url = `http://${host}:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Injects a fault into the next `times` requests (optionally only those `match` accepts). */
  inject(fault: Fault, times = 1, match?: (req: FakeRequest) => boolean): void {
    this.#faults.push({ fault, remaining: times, ...(match ? { match } : {}) });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://fake');
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let json: unknown;
    if (rawBody.length > 0) {
      try {
        json = JSON.parse(rawBody.toString('utf8'));
      } catch {
        json = undefined;
      }
    }
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers,
      rawBody,
      json,
      at: Date.now(),
    };
    this.requests.push(request);
    const index = this.#faults.findIndex((f) => !f.match || f.match(request));
    if (index >= 0) {
      const queued = this.#faults[index]!;
      if (--queued.remaining <= 0) this.#faults.splice(index, 1);
      const fault = queued.fault;
      if (fault.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'hang') return; // never answers; stop() destroys the socket
      if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
      if (fault.kind === 'status') {
        send(res, {
          status: fault.status,
          ...(fault.headers ? { headers: fault.headers } : {}),
          body: fault.body,
        });
        return;
      }
    }
    try {
      send(res, await this.handler(request));
    } catch (error) {
      send(res, { status: 500, body: { error: `fake server bug: ${(error as Error).message}` } });
    }
  }
}

function send(res: ServerResponse, reply: FakeReply): void {
  if (res.destroyed) return;
  const headers: Record<string, string> = { ...reply.headers };
  let body: string | Buffer = '';
  if (reply.body !== undefined) {
    if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) {
      body = reply.body;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      body = JSON.stringify(reply.body);
      headers['content-type'] ??= 'application/json;charset=UTF-8';
    }
  }
  res.writeHead(reply.status, headers);
  res.end(body);
}
