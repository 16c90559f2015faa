import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeSlack, slackSignature } from './slack.js';

let fake: FakeSlack | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function call(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', body, headers });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.statusCode, text, json, retryAfter: res.headers['retry-after'] };
}

const json = (token?: string) => ({
  'content-type': 'application/json; charset=utf-8',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

describe('FakeSlack', () => {
  it('chat.postMessage: token checks, JSON and form bodies, shape checks, threads', async () => {
    fake = await new FakeSlack({ token: 'xoxb-t', channels: [{ id: 'C1', name: 'general' }] }).start();
    const post = `${fake.apiUrl}/chat.postMessage`;
    expect((await call(post, '{"channel":"C1","text":"x"}', json())).json).toEqual({
      ok: false,
      error: 'not_authed',
    });
    expect((await call(post, '{"channel":"C1","text":"x"}', json('bad'))).json.error).toBe('invalid_auth');
    expect((await call(post, '{"channel":"C9","text":"x"}', json('xoxb-t'))).json.error).toBe(
      'channel_not_found',
    );
    expect((await call(post, '{"channel":"C1"}', json('xoxb-t'))).json.error).toBe('no_text');
    expect((await call(post, '{"channel":"C1","blocks":[{"text":1}]}', json('xoxb-t'))).json.error).toBe(
      'invalid_blocks',
    );
    const root = await call(post, '{"channel":"#general","text":"root"}', json('xoxb-t'));
    expect(root.json).toMatchObject({ ok: true, channel: 'C1', ts: expect.stringMatching(/^\d+\.\d{6}$/) });
    const form = new URLSearchParams({
      token: 'xoxb-t',
      channel: 'C1',
      text: 'reply',
      thread_ts: root.json.ts,
      reply_broadcast: 'true',
      blocks: JSON.stringify([{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }]),
    }).toString();
    const reply = await call(post, form, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(reply.json.message).toMatchObject({ thread_ts: root.json.ts });
    expect(fake.replies(root.json.ts)).toMatchObject([
      { text: 'reply', reply_broadcast: true, blocks: [{ type: 'section' }] },
    ]);
    fake.archive('C1');
    expect((await call(post, '{"channel":"C1","text":"x"}', json('xoxb-t'))).json.error).toBe('is_archived');
    expect((await call(`${fake.apiUrl}/chat.nope`, '{}', json('xoxb-t'))).json.error).toBe('unknown_method');
  });

  it('chat.update rewrites a recorded message; unknown ts is message_not_found', async () => {
    fake = await new FakeSlack({ token: 'xoxb-t', channels: ['C1'] }).start();
    const { json: posted } = await call(
      `${fake.apiUrl}/chat.postMessage`,
      '{"channel":"C1","text":"a"}',
      json('xoxb-t'),
    );
    const update = `${fake.apiUrl}/chat.update`;
    expect((await call(update, `{"channel":"C1","ts":"1.2","text":"b"}`, json('xoxb-t'))).json.error).toBe(
      'message_not_found',
    );
    expect(
      (await call(update, `{"channel":"C1","ts":"${posted.ts}","text":"b"}`, json('xoxb-t'))).json,
    ).toMatchObject({
      ok: true,
      ts: posted.ts,
      text: 'b',
    });
    expect(fake.message(posted.ts)).toMatchObject({ text: 'b', updates: 1 });
  });

  it('incoming webhooks answer "ok" or Slack\'s plain-string errors', async () => {
    fake = await new FakeSlack({ channels: ['C1'], webhooks: { '/services/T1/B1/abc': 'C1' } }).start();
    const hook = fake.webhookUrl();
    expect(hook).toMatch(/\/services\/T1\/B1\/abc$/);
    expect(await call(hook, '{"text":"hi"}', json())).toMatchObject({ status: 200, text: 'ok' });
    expect(await call(hook, 'not json', json())).toMatchObject({ status: 400, text: 'invalid_payload' });
    expect(await call(hook, '{}', json())).toMatchObject({ status: 400, text: 'no_text' });
    expect(await call(`${fake.url}/services/T1/B1/other`, '{"text":"x"}', json())).toMatchObject({
      status: 404,
      text: 'no_service',
    });
    fake.archive('C1');
    expect(await call(hook, '{"text":"hi"}', json())).toMatchObject({
      status: 410,
      text: 'channel_is_archived',
    });
    expect(fake.messages).toMatchObject([{ channel: 'C1', text: 'hi', via: 'webhook' }]);
  });

  it('rate-limits per channel with 429 and Retry-After on its own clock', async () => {
    let now = Date.parse('2026-11-26T12:00:00Z');
    fake = await new FakeSlack({
      token: 't0ken',
      channels: ['C1', 'C2'],
      rateLimit: { max: 1, windowMs: 1_000 },
      now: () => now,
    }).start();
    const post = (channel: string) =>
      call(`${fake!.apiUrl}/chat.postMessage`, JSON.stringify({ channel, text: 'x' }), json('t0ken'));
    expect((await post('C1')).json.ok).toBe(true);
    const limited = await post('C1');
    expect(limited).toMatchObject({
      status: 429,
      retryAfter: '1',
      json: { ok: false, error: 'ratelimited' },
    });
    expect((await post('C2')).json.ok).toBe(true);
    now += 1_000;
    expect((await post('C1')).json.ok).toBe(true);
    fake.rateLimitNext(1, 30);
    expect(await post('C2')).toMatchObject({ status: 429, retryAfter: '30' });
  });

  it('sends signed interactions and commands that verify, and can resend them unchanged', async () => {
    const seen: Array<{ headers: Record<string, unknown>; body: string }> = [];
    const server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ headers: req.headers, body });
      res.end('');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      fake = await new FakeSlack({ token: 'xoxb-t', channels: ['C1'], now: () => 1_800_000_000_000 }).start();
      const blocks = [
        {
          type: 'actions',
          block_id: 'b',
          elements: [
            { type: 'button', action_id: 'go', value: 'v1', text: { type: 'plain_text', text: 'Go' } },
          ],
        },
      ];
      const { json: posted } = await call(
        `${fake.apiUrl}/chat.postMessage`,
        JSON.stringify({ channel: 'C1', text: 'q', blocks }),
        json('xoxb-t'),
      );
      const sent = await fake.click(url, posted.ts, 'go', {
        signingSecret: 'shh-secret',
        user: { id: 'U9', name: 'zoe' },
      });
      await fake.sendCommand(url, { text: 'status PROJ-1' }, { signingSecret: 'shh-secret' });
      await fake.resend(sent);
      expect(seen).toHaveLength(3);
      const [click, command, again] = seen;
      expect(click!.headers['x-slack-request-timestamp']).toBe('1800000000');
      expect(click!.headers['x-slack-signature']).toBe(
        slackSignature('shh-secret', 1_800_000_000, click!.body),
      );
      const payload = JSON.parse(new URLSearchParams(click!.body).get('payload')!);
      expect(payload).toMatchObject({
        type: 'block_actions',
        user: { id: 'U9', name: 'zoe' },
        container: { message_ts: posted.ts, channel_id: 'C1' },
        actions: [{ action_id: 'go', value: 'v1', block_id: 'b' }],
      });
      expect(new URLSearchParams(command!.body).get('text')).toBe('status PROJ-1');
      expect(command!.headers['x-slack-signature']).toBe(
        slackSignature('shh-secret', 1_800_000_000, command!.body),
      );
      expect(again).toEqual(click);
      // The payload's response_url rewrites the message.
      expect(
        (await call(payload.response_url, '{"replace_original":true,"text":"done"}', json())).json,
      ).toEqual({ ok: true });
      expect(fake.message(posted.ts)).toMatchObject({ text: 'done', updates: 1 });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
