import { isSwitchyardError, type SwitchyardError } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, drive, issue, type Rig, rig, verdict } from './harness.js';

const TOKEN = 'xoxb-111-222-secretbottoken';
let r: Rig | undefined;

afterEach(async () => {
  await r?.close();
  r = undefined;
});

async function failure(promise: Promise<unknown>): Promise<SwitchyardError> {
  try {
    await promise;
  } catch (error) {
    if (isSwitchyardError(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

function botRig(extra: Record<string, unknown> = {}, fakeOptions = {}) {
  return rig((fake) => ({ token: TOKEN, channel: 'C0000000001', apiUrl: fake.apiUrl, ...extra }), {
    token: TOKEN,
    ...fakeOptions,
  });
}

describe('slack.post through an incoming webhook', () => {
  it('posts text and blocks; the body "ok" is success', async () => {
    r = await rig((fake) => ({ webhookUrl: fake.webhookUrl() }));
    const result = await r.host.invoke('slack.post', {
      text: 'hello',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*hello*' } }],
    });
    expect(result).toEqual({ via: 'webhook' });
    expect(r.fake.messages).toMatchObject([{ channel: 'C0000000001', text: 'hello', via: 'webhook' }]);
    expect(r.fake.messages[0]!.blocks).toHaveLength(1);
  });

  it('turns plain-string failures into permanent errors that say what to fix, never naming the URL', async () => {
    r = await rig((fake) => ({ webhookUrl: fake.webhookUrl() }));
    r.fake.archive('C0000000001');
    const archived = await failure(drive(r.host, r.host.invoke('slack.post', { text: 'x' })));
    expect(archived).toMatchObject({ code: 'SY_SLACK_CHANNEL_ARCHIVED', retryable: false });
    expect(archived.message).toMatch(/archived.*unarchive/);

    r.fake.deleteChannel('C0000000001');
    expect(await failure(drive(r.host, r.host.invoke('slack.post', { text: 'x' })))).toMatchObject({
      code: 'SY_SLACK_CHANNEL_NOT_FOUND',
    });
    r.fake.addChannel('C0000000001');
    r.fake.webhooks.clear(); // the webhook was removed in Slack: 404 no_service
    const gone = await failure(drive(r.host, r.host.invoke('slack.post', { text: 'x' })));
    expect(gone).toMatchObject({ code: 'SY_SLACK_AUTH', retryable: false });
    expect(gone.message).toMatch(/webhookUrl/);
    for (const e of [archived, gone])
      expect(JSON.stringify({ ...e, m: e.message })).not.toContain('/services/T000');
  });

  it('refuses params only a bot token can honour', async () => {
    r = await rig((fake) => ({ webhookUrl: fake.webhookUrl() }));
    const cause = (await r.host.receive('IssueTransitioned', issue)).event;
    expect(await failure(r.host.invoke('slack.post', { text: 'x', channel: 'C0000000002' }))).toMatchObject({
      code: 'SY_SLACK_PARAMS',
    });
    const thread = await failure(
      r.host.invoke('slack.post', { text: 'x', thread: 'correlation' }, { cause }),
    );
    expect(thread.message).toMatch(/needs a bot token/);
    expect(r.fake.messages).toHaveLength(0);
  });

  it('keeps the webhook URL out of errors and logs when Slack cannot be reached', async () => {
    r = await rig(() => ({ webhookUrl: 'http://127.0.0.1:9/services/TSECRET/BSECRET/hooksecret' }));
    const e = await failure(r.host.invoke('slack.post', { text: 'x' }));
    expect(e).toMatchObject({ code: 'SY_SLACK_UNAVAILABLE', retryable: true });
    expect(e.message).not.toContain('hooksecret');
    expect(JSON.stringify(r.host.logs)).not.toContain('hooksecret');
  });
});

describe('slack.post through chat.postMessage', () => {
  it('sends the bearer token, returns ts and channel, and renders the cause event by default', async () => {
    r = await botRig();
    const cause = (await r.host.receive('IssueTransitioned', issue, { subject: 'PROJ-123' })).event;
    const result = await r.host.invoke('slack.post', {}, { cause });
    expect(result).toMatchObject({
      via: 'web-api',
      channel: 'C0000000001',
      ts: expect.stringMatching(/^\d+\.\d{6}$/),
    });
    const sent = r.fake.requests.find((q) => q.path === '/api/chat.postMessage')!;
    expect(sent.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const message = r.fake.messages[0]!;
    expect(message.text).toBe(
      'PROJ-123 moved to Ready for Development: Checkout: pay with <saved> cards & vouchers',
    );
    expect(JSON.stringify(message.blocks)).toContain(
      '<https://example.atlassian.net/browse/PROJ-123|PROJ-123>',
    );
    expect(JSON.stringify(message.blocks)).toContain('&lt;saved&gt; cards &amp; vouchers');
  });

  it('links MetricValidated to the Jira issue of its chain and shows verdict, values and reason', async () => {
    r = await botRig();
    const start = (await r.host.receive('IssueTransitioned', issue)).event;
    const deploy = (await r.host.receive('DeploymentCompleted', deployment, { cause: start })).event;
    const check = (await r.host.receive('MetricValidated', verdict, { cause: deploy })).event;
    await r.host.invoke('slack.post', {}, { cause: check });
    const blocks = JSON.stringify(r.fake.messages[0]!.blocks);
    expect(r.fake.messages[0]!.text).toBe(
      'error-rate: failed (error rate 0.2 is not < 0.01 for 3 of 5 samples)',
    );
    expect(blocks).toContain(':x: *error-rate*: *failed*');
    expect(blocks).toContain('&lt; 0.01');
    expect(blocks).toContain('*Actual*\\n0.2');
    expect(blocks).toContain('<https://example.atlassian.net/browse/PROJ-123|PROJ-123>');
  });

  it('maps Slack errors: bad token, unknown and archived channel, invalid blocks are permanent', async () => {
    r = await botRig({}, { token: 'xoxb-the-right-one' });
    const auth = await failure(r.host.invoke('slack.post', { text: 'x' }));
    expect(auth).toMatchObject({
      code: 'SY_SLACK_AUTH',
      retryable: false,
      details: { slackError: 'invalid_auth' },
    });
    expect(auth.message).toMatch(/options\.token/);
    expect(auth.message).not.toContain(TOKEN);
    await r.close();

    r = await botRig();
    expect(await failure(r.host.invoke('slack.post', { text: 'x', channel: 'C404' }))).toMatchObject({
      code: 'SY_SLACK_CHANNEL_NOT_FOUND',
      details: { channel: 'C404' },
    });
    r.fake.archive('C0000000002');
    expect(await failure(r.host.invoke('slack.post', { text: 'x', channel: 'C0000000002' }))).toMatchObject({
      code: 'SY_SLACK_CHANNEL_ARCHIVED',
      details: { slackError: 'is_archived' },
    });
    const invalid = await failure(
      r.host.invoke('slack.post', {
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3_001) } }],
      }),
    );
    expect(invalid).toMatchObject({ code: 'SY_SLACK_INVALID_PAYLOAD', retryable: false });
    expect(JSON.stringify(r.host.logs)).not.toContain(TOKEN);
  });

  it('turns a 429 into a retryable error carrying Retry-After, without retrying in place', async () => {
    r = await botRig();
    r.fake.rateLimitNext(1, 7);
    const limited = await failure(r.host.invoke('slack.post', { text: 'x' }));
    expect(limited).toMatchObject({ code: 'SY_SLACK_RATE_LIMITED', retryable: true, retryAfterMs: 7_000 });
    expect(r.fake.requests.filter((q) => q.path === '/api/chat.postMessage')).toHaveLength(1);
  });

  it('without text or blocks and without a cause, fails naming the fix', async () => {
    r = await botRig();
    expect((await failure(r.host.invoke('slack.post', {}))).message).toMatch(/set with\.text/);
  });
});

describe('threads per chain', () => {
  it("puts every message of a chain in the first one's thread and broadcasts failures", async () => {
    r = await botRig();
    const start = (await r.host.receive('IssueTransitioned', issue)).event;
    const deploy = (await r.host.receive('DeploymentCompleted', deployment, { cause: start })).event;
    const check = (await r.host.receive('MetricValidated', verdict, { cause: deploy })).event;
    const other = (await r.host.receive('IssueTransitioned', { ...issue, issueKey: 'PROJ-9' })).event;
    const post = (cause: typeof start) =>
      drive(r!.host, r!.host.invoke('slack.post', { thread: 'correlation' }, { cause })) as Promise<{
        ts: string;
        threadTs?: string;
      }>;
    const root = await post(start);
    const reply = await post(deploy);
    const failed = await post(check);
    const separate = await post(other);
    expect(root.threadTs).toBeUndefined();
    expect(reply.threadTs).toBe(root.ts);
    expect(failed.threadTs).toBe(root.ts);
    expect(separate.threadTs).toBeUndefined();
    expect(r.fake.roots('C0000000001').map((m) => m.ts)).toEqual([root.ts, separate.ts]);
    expect(r.fake.replies(root.ts).map((m) => [m.ts, m.reply_broadcast ?? false])).toEqual([
      [reply.ts, false],
      [failed.ts, true],
    ]);
  });

  it('opens one thread when two first messages of a chain race', async () => {
    r = await botRig();
    const start = (await r.host.receive('IssueTransitioned', issue)).event;
    const results = (await drive(
      r.host,
      Promise.all([
        r.host.invoke('slack.post', { text: 'one', thread: 'correlation' }, { cause: start }),
        r.host.invoke('slack.post', { text: 'two', thread: 'correlation' }, { cause: start }),
      ]),
    )) as Array<{ ts: string; threadTs?: string }>;
    const roots = r.fake.roots();
    expect(roots).toHaveLength(1);
    expect(r.fake.replies(roots[0]!.ts)).toHaveLength(1);
    expect(results.filter((x) => x.threadTs === roots[0]!.ts)).toHaveLength(1);
  });

  it('broadcast: false keeps a failure inside the thread', async () => {
    r = await botRig({ broadcastFailures: true });
    const start = (await r.host.receive('IssueTransitioned', issue)).event;
    const check = (await r.host.receive('MetricValidated', verdict, { cause: start })).event;
    await drive(r.host, r.host.invoke('slack.post', { thread: 'correlation' }, { cause: start }));
    await drive(
      r.host,
      r.host.invoke('slack.post', { thread: 'correlation', broadcast: false }, { cause: check }),
    );
    expect(r.fake.messages[1]).toMatchObject({ thread_ts: r.fake.messages[0]!.ts });
    expect(r.fake.messages[1]!.reply_broadcast).toBeUndefined();
  });
});

describe('flow control', () => {
  it('spaces messages to one channel ~1 s apart on ctx.clock, so Slack never answers 429', async () => {
    r = await botRig({}, { rateLimit: { max: 1, windowMs: 1_000 } });
    const t0 = r.host.clock.now();
    const posts = Promise.all([1, 2, 3].map((n) => r!.host.invoke('slack.post', { text: `m${n}` })));
    const other = r.host.invoke('slack.post', { text: 'elsewhere', channel: 'C0000000002' });
    await drive(r.host, Promise.all([posts, other]), 100);
    expect(r.fake.requests.filter((q) => q.path === '/api/chat.postMessage')).toHaveLength(4);
    const seconds = r.fake.messagesIn('C0000000001').map((m) => Number(m.ts.split('.')[0]));
    expect(seconds[1]! - seconds[0]!).toBeGreaterThanOrEqual(1);
    expect(seconds[2]! - seconds[1]!).toBeGreaterThanOrEqual(1);
    // The other channel did not wait behind the first one.
    expect(Number(r.fake.messagesIn('C0000000002')[0]!.ts.split('.')[0])).toBe(Math.floor(t0 / 1000));
    const slots = await r.host.core.transport.kv('plugin.slack').get<{ next: number }>('rate:C0000000001');
    expect(slots?.value.next).toBe(t0 + 3_000);
  });

  it('after a 429 nobody sends to that channel before Retry-After has passed', async () => {
    r = await botRig();
    r.fake.rateLimitNext(1, 5);
    const t0 = r.host.clock.now();
    await failure(r.host.invoke('slack.post', { text: 'first' }));
    const second = r.host.invoke('slack.post', { text: 'second' });
    await drive(r.host, second, 500);
    expect(r.host.clock.now() - t0).toBeGreaterThanOrEqual(5_000);
    expect(r.fake.messages.map((m) => m.text)).toEqual(['second']);
  });
});
