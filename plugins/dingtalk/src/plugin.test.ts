import { createEnvelope, type SwitchyardEvent } from '@switchyard/core';
import { createTestHost, DINGTALK_ERRORS } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { logText, type Rig, rig, SECRET, TOKEN } from './__fixtures__/harness.js';
import dingtalk from './index.js';

const rigs: Rig[] = [];
async function open(...args: Parameters<typeof rig>): Promise<Rig> {
  const r = await rig(...args);
  rigs.push(r);
  return r;
}
afterEach(async () => {
  for (const r of rigs.splice(0).reverse()) await r.close();
});

function event(type: string, data: unknown): SwitchyardEvent {
  return createEnvelope({ type, data, source: 'test' }, Date.parse('2026-11-26T12:00:00Z'));
}

const deployment = {
  service: 'checkout',
  environment: 'production',
  version: '1.4.2',
  outcome: 'succeeded',
  issueKeys: ['PROJ-7'],
  commit: '0123456789abcdef0123',
  startedAt: '2026-11-26T11:58:00Z',
  finishedAt: '2026-11-26T12:00:30Z',
  url: 'https://ci.example.com/deploy/42',
};

describe('dingtalk.send message types', () => {
  it('sends text, markdown, link and both kinds of actionCard in the shapes DingTalk takes', async () => {
    const r = await open();
    const send = (params: unknown) => r.host.invoke('dingtalk.send', params);
    await send({ msgtype: 'text', text: 'build 42 passed' });
    await send({ msgtype: 'markdown', title: 'Build', text: '#### Build 42\n\n- **passed**' });
    await send({ msgtype: 'markdown', text: '#### Build *43* failed\n\ndetails' });
    await send({
      msgtype: 'link',
      title: 'Release notes',
      text: 'What is new in 1.4',
      messageUrl: 'https://example.com/notes',
      picUrl: 'https://example.com/p.png',
    });
    await send({
      msgtype: 'actionCard',
      title: 'Deploy?',
      text: 'ready',
      singleTitle: 'Open',
      singleURL: 'https://x.example/1',
    });
    await send({
      msgtype: 'actionCard',
      title: 'Approve',
      text: 'pick one',
      btnOrientation: 'horizontal',
      buttons: [
        { title: 'Yes', actionURL: 'https://x.example/yes' },
        { title: 'No', actionURL: 'https://x.example/no' },
      ],
    });
    expect(r.fake.rejections).toEqual([]);
    expect(r.fake.messages.map((m) => m.body)).toEqual([
      { msgtype: 'text', text: { content: 'build 42 passed' } },
      { msgtype: 'markdown', markdown: { title: 'Build', text: '#### Build 42\n\n- **passed**' } },
      {
        msgtype: 'markdown',
        markdown: { title: 'Build 43 failed', text: '#### Build *43* failed\n\ndetails' },
      },
      {
        msgtype: 'link',
        link: {
          title: 'Release notes',
          text: 'What is new in 1.4',
          messageUrl: 'https://example.com/notes',
          picUrl: 'https://example.com/p.png',
        },
      },
      {
        msgtype: 'actionCard',
        actionCard: {
          title: 'Deploy?',
          text: 'ready',
          singleTitle: 'Open',
          singleURL: 'https://x.example/1',
        },
      },
      {
        msgtype: 'actionCard',
        actionCard: {
          title: 'Approve',
          text: 'pick one',
          btnOrientation: '1',
          btns: [
            { title: 'Yes', actionURL: 'https://x.example/yes' },
            { title: 'No', actionURL: 'https://x.example/no' },
          ],
        },
      },
    ]);
  });

  it('writes @mentions into the content when missing, so DingTalk notifies those people', async () => {
    const r = await open();
    await r.host.invoke('dingtalk.send', {
      msgtype: 'markdown',
      title: 'Deploy',
      text: 'done, @13800000000 please check',
      atMobiles: ['13800000000', '13900000000'],
      atUserIds: 'user-7',
    });
    await r.host.invoke('dingtalk.send', { msgtype: 'text', text: 'all hands', isAtAll: true });
    const [md, all] = r.fake.messages;
    expect(md!.text).toBe('done, @13800000000 please check\n\n@13900000000 @user-7');
    expect(md!.body.at).toEqual({ atMobiles: ['13800000000', '13900000000'], atUserIds: ['user-7'] });
    expect(md!.mentioned).toEqual(['13800000000', '13900000000', 'user-7']);
    expect(all!.isAtAll).toBe(true);
  });

  it('rejects @mentions on link messages, and buttons outside actionCard, with the field and the fix', async () => {
    const r = await open();
    await expect(
      r.host.invoke('dingtalk.send', {
        msgtype: 'link',
        title: 't',
        text: 'x',
        messageUrl: 'https://e.example',
        atMobiles: ['13800000000'],
      }),
    ).rejects.toMatchObject({
      code: 'SY_ACTION_PARAMS_INVALID',
      message: expect.stringContaining('atMobiles: link messages cannot @mention anyone'),
    });
    await expect(
      r.host.invoke('dingtalk.send', {
        msgtype: 'text',
        text: 'x',
        buttons: [{ title: 'a', actionURL: 'https://a.example' }],
      }),
    ).rejects.toMatchObject({
      message: expect.stringContaining('buttons: only actionCard messages have buttons'),
    });
    await expect(
      r.host.invoke('dingtalk.send', { msgtype: 'actionCard', title: 't', text: 'x' }),
    ).rejects.toMatchObject({ code: 'SY_DINGTALK_MESSAGE_INVALID', retryable: false });
    await expect(r.host.invoke('dingtalk.send', { msgtype: 'text' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_NO_CONTENT',
      retryable: false,
    });
    expect(r.fake.server.requests).toHaveLength(0);
  });
});

describe('security settings', () => {
  it('signs every request once (timestamp + sign) so DingTalk accepts it', async () => {
    const r = await open({ secret: SECRET }, { secret: SECRET });
    for (let i = 0; i < 5; i++) {
      await r.host.invoke('dingtalk.send', { text: `signed ${i}` });
      await r.clock.advance(1_234); // a new timestamp, a new signature
    }
    expect(r.fake.rejections).toEqual([]);
    expect(r.fake.messages).toHaveLength(5);
    for (const req of r.fake.server.requests) {
      expect(req.query.getAll('sign')).toHaveLength(1);
      expect(req.query.get('timestamp')).toMatch(/^\d{13}$/);
    }
  });

  it('names the setting that refused the message: signature, timestamp, keywords, IP allowlist', async () => {
    const wrong = await open({ secret: 'SECwrong-secret-value' }, { secret: SECRET });
    await expect(wrong.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_SECURITY',
      retryable: false,
      details: { errcode: 310000, setting: 'signature' },
      message: expect.stringContaining('options.secret'),
    });

    const unsigned = await open({}, { secret: SECRET });
    await expect(unsigned.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      details: { setting: 'timestamp' },
    });

    const skewed = await open({ secret: SECRET }, { secret: SECRET });
    const fakeNow = skewed.clock.now() + 2 * 3_600_000;
    const ahead = await open({ secret: SECRET }, { secret: SECRET, clock: () => fakeNow });
    await expect(ahead.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      details: { setting: 'timestamp' },
      message: expect.stringContaining('clock'),
    });

    const keywords = await open({ keyword: 'deploy' }, { keyword: 'release' });
    await expect(keywords.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      details: { setting: 'keywords' },
      message: expect.stringContaining('options.keyword'),
    });

    skewed.fake.blockedIp = '203.0.113.9';
    await expect(skewed.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      details: { setting: 'ip' },
      message: expect.stringContaining('IP allowlist'),
    });
  });

  it('adds the keyword when the message lacks it', async () => {
    const r = await open({ keyword: '部署' }, { keyword: '部署' });
    await r.host.invoke('dingtalk.send', { msgtype: 'markdown', title: 'Build', text: '#### Build 42\nok' });
    await r.host.invoke('dingtalk.send', { msgtype: 'text', text: 'build passed' });
    await r.host.invoke('dingtalk.send', { msgtype: 'text', text: '部署完成' });
    await r.host.invoke('dingtalk.send', {
      msgtype: 'link',
      title: 'notes',
      text: 'x',
      messageUrl: 'https://e.example',
    });
    expect(r.fake.rejections).toEqual([]);
    expect(r.fake.messages.map((m) => m.title ?? m.text)).toEqual([
      'Build',
      '部署 build passed',
      '部署完成',
      '部署 notes',
    ]);
    expect(r.fake.messages[0]!.text).toBe('#### 部署 Build 42\nok');
  });

  it('adds the first of several keywords; a keyword the robot does not know is refused', async () => {
    const r = await open({ keyword: ['CI', '部署'] }, { keyword: '部署' });
    await r.host.invoke('dingtalk.send', { msgtype: 'text', text: '部署完成' });
    await expect(
      r.host.invoke('dingtalk.send', { msgtype: 'text', text: 'build passed' }),
    ).rejects.toMatchObject({
      code: 'SY_DINGTALK_SECURITY',
    });
    expect(r.fake.rejections.map((x) => x.body)).toEqual([
      { msgtype: 'text', text: { content: 'CI build passed' } },
    ]);
  });
});

describe('DingTalk answers', () => {
  const cases = [
    [DINGTALK_ERRORS.tokenMissing, 'SY_DINGTALK_TOKEN_INVALID'],
    [DINGTALK_ERRORS.tokenUnknown, 'SY_DINGTALK_TOKEN_INVALID'],
    [DINGTALK_ERRORS.robotDisabled, 'SY_DINGTALK_ROBOT_DISABLED'],
    [DINGTALK_ERRORS.robotDeleted, 'SY_DINGTALK_ROBOT_MISSING'],
    [DINGTALK_ERRORS.invalidMessage('x'), 'SY_DINGTALK_REJECTED'],
  ] as const;
  it.each(cases)('errcode %o is a permanent %s', async (answer, code) => {
    const r = await open();
    r.fake.failNext(answer);
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code,
      retryable: false,
      details: { errcode: answer.errcode },
    });
  });

  it('maps the robot states and a wrong token as DingTalk answers them', async () => {
    const r = await open();
    r.fake.state = 'disabled';
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_ROBOT_DISABLED',
    });
    r.fake.state = 'deleted';
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_ROBOT_MISSING',
    });
    const wrong = await open({ webhook: `${r.fake.url}/robot/send?access_token=nottherighttoken` });
    await expect(wrong.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_TOKEN_INVALID',
    });
  });

  it('retries -1 (busy), non-200 answers and network failures', async () => {
    const r = await open();
    r.fake.failNext(DINGTALK_ERRORS.busy);
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_BUSY',
      retryable: true,
    });
    r.fake.server.inject({ kind: 'status', status: 502, body: 'bad gateway' });
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_HTTP_STATUS',
      retryable: true,
      details: { status: 502 },
    });
    r.fake.server.inject({ kind: 'reset' });
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_UNREACHABLE',
      retryable: true,
    });
    r.fake.server.inject({ kind: 'status', status: 200, body: '<html>login</html>' });
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).rejects.toMatchObject({
      code: 'SY_DINGTALK_BAD_RESPONSE',
      retryable: false,
    });
    await expect(r.host.invoke('dingtalk.send', { text: 'x' })).resolves.toEqual({
      msgtype: 'markdown',
      parts: 1,
      rendered: false,
    });
  });

  it('never puts the access_token or the secret in errors, results or logs', async () => {
    const r = await open({ secret: SECRET }, { secret: 'SECother' });
    r.fake.failNext({ errcode: 999, errmsg: `echo ${TOKEN}` });
    const errors: unknown[] = [];
    await r.host.invoke('dingtalk.send', { text: 'x' }).catch((e) => errors.push(e));
    r.fake.server.inject({ kind: 'reset' });
    await r.host.invoke('dingtalk.send', { text: 'x' }).catch((e) => errors.push(e));
    expect(errors).toHaveLength(2);
    const text = JSON.stringify(errors.map((e) => ({ m: (e as Error).message, j: e }))) + logText(r.host);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('access_token=');
  });
});

describe('long messages', () => {
  it('splits text over 20,000 bytes into numbered parts at line boundaries', async () => {
    const r = await open({ keyword: 'CI' }, { keyword: 'CI' });
    const lines = Array.from({ length: 900 }, (_, i) => `第 ${i} 行：构建日志 line ${i} ${'x'.repeat(20)}`);
    const result = await r.host.invoke('dingtalk.send', {
      msgtype: 'markdown',
      title: 'Log',
      text: lines.join('\n'),
      atMobiles: ['13800000000'],
    });
    const n = r.fake.messages.length;
    expect(n).toBeGreaterThan(1);
    expect(result).toEqual({ msgtype: 'markdown', parts: n, rendered: false });
    expect(r.fake.rejections).toEqual([]);
    r.fake.messages.forEach((m, i) => {
      expect(Buffer.byteLength(JSON.stringify(m.body))).toBeLessThanOrEqual(20_000);
      expect(m.title).toBe(`Log (${i + 1}/${n})`);
    });
    const seen = r.fake.messages.flatMap((m) => m.text.split('\n')).filter((l) => l.includes('构建日志'));
    expect(seen.map((l) => l.replace(/^CI /, ''))).toEqual(lines);
    expect(r.fake.messages.at(-1)!.mentioned).toEqual(['13800000000']);
  });

  it('splits further and resends when DingTalk still says too long (460101)', async () => {
    const r = await open({}, { maxBytes: 6_000 });
    const text = Array.from({ length: 400 }, (_, i) => `line ${i} ${'y'.repeat(30)}`).join('\n');
    await r.host.invoke('dingtalk.send', { msgtype: 'text', text });
    expect(r.fake.rejections.map((x) => x.errcode)).toContain(460101);
    expect(r.fake.messages.length).toBeGreaterThan(2);
    const joined = r.fake.messages.map((m) => m.text.replace(/^\(\d+\/\d+\)\n/, '')).join('\n');
    expect(joined).toBe(text);
  });

  it('refuses to split a link or actionCard message over the limit', async () => {
    const r = await open();
    await expect(
      r.host.invoke('dingtalk.send', {
        msgtype: 'actionCard',
        title: 't',
        text: 'z'.repeat(25_000),
        singleTitle: 'o',
        singleURL: 'https://e.example',
      }),
    ).rejects.toMatchObject({ code: 'SY_DINGTALK_TOO_LONG', retryable: false });
  });

  it('resumes a split message after the last delivered part when retried', async () => {
    const r = await open();
    const text = Array.from({ length: 700 }, (_, i) => `row ${i} ${'z'.repeat(40)}`).join('\n');
    r.fake.failNext(DINGTALK_ERRORS.busy); // first part fails
    await expect(
      r.host.invoke('dingtalk.send', { msgtype: 'text', text }, { idempotencyKey: 'k1' }),
    ).rejects.toMatchObject({
      code: 'SY_DINGTALK_BUSY',
    });
    // Second attempt: part 1 goes through, then DingTalk is busy on part 2.
    const busyOnSecond = r.fake.server.requests.length + 1;
    r.fake.server.inject(
      { kind: 'status', status: 200, body: DINGTALK_ERRORS.busy },
      1,
      () => r.fake.server.requests.length > busyOnSecond,
    );
    await expect(
      r.host.invoke('dingtalk.send', { msgtype: 'text', text }, { idempotencyKey: 'k1' }),
    ).rejects.toMatchObject({
      code: 'SY_DINGTALK_BUSY',
    });
    expect(r.fake.messages).toHaveLength(1);
    const result = (await r.host.invoke(
      'dingtalk.send',
      { msgtype: 'text', text },
      { idempotencyKey: 'k1' },
    )) as {
      parts: number;
    };
    expect(r.fake.messages).toHaveLength(result.parts);
    expect(result.parts).toBeGreaterThan(1);
    expect(r.fake.messages.map((m) => m.text.split('\n')[0])).toEqual(
      Array.from({ length: result.parts }, (_, i) => `(${i + 1}/${result.parts})`),
    );
  });
});

describe('default messages from the triggering event', () => {
  it('renders DeploymentCompleted as markdown with a link, in zh-CN by default', async () => {
    const r = await open();
    const result = await r.host.invoke(
      'dingtalk.send',
      {},
      { cause: event('DeploymentCompleted', deployment) },
    );
    expect(result).toEqual({ msgtype: 'markdown', parts: 1, rendered: true });
    const m = r.fake.messages[0]!;
    expect(m.title).toBe('✅ 部署成功: checkout 1.4.2');
    expect(m.text).toContain('- 环境: production');
    expect(m.text).toContain('- 提交: 0123456789ab');
    expect(m.text).toContain('- 耗时: 2m 30s');
    expect(m.text).toContain('(https://ci.example.com/deploy/42)');
  });

  it('renders in English, as text or as an actionCard with a details button', async () => {
    const r = await open({ locale: 'en' });
    const cause = event('DeploymentCompleted', { ...deployment, outcome: 'failed' });
    await r.host.invoke('dingtalk.send', { msgtype: 'text', atMobiles: ['13800000000'] }, { cause });
    await r.host.invoke('dingtalk.send', { msgtype: 'actionCard' }, { cause });
    await r.host.invoke('dingtalk.send', { msgtype: 'link' }, { cause });
    const [text, card, link] = r.fake.messages;
    expect(text!.text.split('\n')[0]).toBe('❌ Deployment failed: checkout 1.4.2');
    expect(text!.mentioned).toEqual(['13800000000']);
    expect(card!.body.actionCard).toMatchObject({
      singleTitle: 'Details',
      singleURL: 'https://ci.example.com/deploy/42',
    });
    expect(link!.body.link).toMatchObject({ messageUrl: 'https://ci.example.com/deploy/42' });
  });

  it('keeps a given title or text and renders only what is missing', async () => {
    const r = await open();
    await r.host.invoke(
      'dingtalk.send',
      { title: '上线通知' },
      { cause: event('DeploymentCompleted', deployment) },
    );
    expect(r.fake.messages[0]!.title).toBe('上线通知');
    expect(r.fake.messages[0]!.text).toContain('部署成功');
  });
});

describe('options', () => {
  it('refuses a webhook without access_token, naming the option, without echoing the URL', async () => {
    await expect(
      createTestHost({
        plugins: [
          { plugin: dingtalk, options: { webhook: 'https://oapi.dingtalk.com/robot/send?x=secretish' } },
        ],
      }),
    ).rejects.toThrow(/webhook.*access_token/s);
    await expect(
      createTestHost({
        plugins: [
          {
            plugin: dingtalk,
            options: {
              webhook: `https://oapi.dingtalk.com/robot/send?access_token=${TOKEN}`,
              ratePerMinute: 30,
            },
          },
        ],
      }),
    ).rejects.toThrow(/ratePerMinute.*at most 20/s);
    const error = await createTestHost({
      plugins: [
        {
          plugin: dingtalk,
          options: { webhook: `https://oapi.dingtalk.com/robot/send?access_token=${TOKEN}&sign=abc` },
        },
      ],
    }).catch((e: Error) => e);
    expect(String(error)).toMatch(/options\.secret/);
    expect(JSON.stringify(error)).not.toContain(TOKEN);
    expect(String((error as Error).message)).not.toContain(TOKEN);
  });
});
