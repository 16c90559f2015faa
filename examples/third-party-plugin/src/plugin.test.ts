import { createTestHost, FakeHttpServer, type TestHost } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import uptime from './index.js';

let host: TestHost | undefined;
let api: FakeHttpServer | undefined;
afterEach(async () => {
  await host?.close();
  await api?.stop();
});

describe('uptime plugin', () => {
  it('turns a monitor webhook into MonitorStatusChanged, once per delivery id', async () => {
    host = await createTestHost({
      plugins: [{ plugin: uptime, options: { apiUrl: 'http://127.0.0.1:9', apiKey: 'key-12345678' } }],
    });
    const body = {
      id: 'evt-1',
      monitor: 'checkout',
      status: 'down',
      url: 'https://shop/checkout',
      checkedAt: '2026-11-26T12:00:00Z',
    };
    expect((await host.webhook('uptime', { body })).status).toBe(202);
    expect((await host.webhook('uptime', { body })).status).toBe(200);
    const event = await host.waitFor('MonitorStatusChanged');
    expect(event).toMatchObject({
      subject: 'checkout',
      source: 'switchyard/plugin-uptime',
      data: { status: 'down' },
    });
    expect(host.emitted('MonitorStatusChanged')).toHaveLength(1);
    expect(await host.webhook('uptime', { body: { monitor: 'x' } })).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'UPTIME_INVALID',
          issues: expect.arrayContaining([expect.objectContaining({ path: 'id' })]),
        },
      },
    });
  });

  it('pauses a monitor over HTTP and says when a retry cannot help', async () => {
    api = await new FakeHttpServer((req) =>
      req.path === '/monitors/checkout/pause'
        ? { status: 200, body: { ok: true } }
        : { status: 404, body: {} },
    ).start();
    host = await createTestHost({
      plugins: [{ plugin: uptime, options: { apiUrl: api.url, apiKey: 'key-12345678' } }],
    });
    expect(await host.invoke('uptime.pause', { monitor: 'checkout' })).toEqual({
      paused: 'checkout',
      minutes: 15,
    });
    expect(api.requests[0]!.headers.authorization).toBe('Bearer key-12345678');
    expect(api.requests[0]!.json).toEqual({ minutes: 15 });
    await expect(host.invoke('uptime.pause', { monitor: 'nope' })).rejects.toMatchObject({
      retryable: false,
    });
  });

  it('refuses bad options with the path of the option', async () => {
    await expect(
      createTestHost({ plugins: [{ plugin: uptime, options: { apiUrl: 'nope', apiKey: 'x' } }] }),
    ).rejects.toThrow(
      /plugins\.uptime\.options\.apiUrl[\s\S]*plugins\.uptime\.options\.apiKey: apiKey looks too short/,
    );
  });
});
