import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { FakeDingTalk, type FakeDingTalkOptions } from './dingtalk.js';

const fakes: FakeDingTalk[] = [];
async function robot(options: Partial<FakeDingTalkOptions> = {}) {
  const clock = new ManualClock();
  const fake = await new FakeDingTalk({ accessToken: 'tok', clock, ...options }).start();
  fakes.push(fake);
  return { fake, clock };
}
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.stop();
});

async function post(
  url: string,
  body: unknown,
): Promise<{ status: number; json: { errcode: number; errmsg: string } }> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as { errcode: number; errmsg: string } };
}

const text = (content: string) => ({ msgtype: 'text', text: { content } });
const sign = (secret: string, ts: number) =>
  createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64');

describe('FakeDingTalk', () => {
  it('accepts a message, records it, and answers errcode 0 with HTTP 200', async () => {
    const { fake, clock } = await robot();
    const res = await post(fake.webhook, { ...text('hi @138'), at: { atMobiles: ['138', '139'] } });
    expect(res).toEqual({ status: 200, json: { errcode: 0, errmsg: 'ok' } });
    expect(fake.messages).toEqual([
      expect.objectContaining({ msgtype: 'text', text: 'hi @138', mentioned: ['138'], at: clock.now() }),
    ]);
  });

  it('checks the token', async () => {
    const { fake } = await robot();
    expect((await post(`${fake.url}/robot/send`, text('x'))).json.errcode).toBe(300001);
    expect((await post(`${fake.url}/robot/send?access_token=nope`, text('x'))).json.errcode).toBe(400101);
    fake.state = 'disabled';
    expect((await post(fake.webhook, text('x'))).json.errcode).toBe(400102);
    fake.state = 'deleted';
    expect((await post(fake.webhook, text('x'))).json.errcode).toBe(400106);
    expect(fake.messages).toEqual([]);
  });

  it('checks the signature, its one-hour window, and refuses a sign encoded twice', async () => {
    const { fake, clock } = await robot({ secret: 'SECs' });
    const now = clock.now();
    const url = (ts: number, s: string) => `${fake.webhook}&timestamp=${ts}&sign=${s}`;
    let ts = now;
    while (!sign('SECs', ts).includes('+')) ts++;
    expect((await post(url(ts, encodeURIComponent(sign('SECs', ts))), text('x'))).json.errcode).toBe(0);
    const twice = encodeURIComponent(encodeURIComponent(sign('SECs', ts)));
    expect((await post(url(ts, twice), text('x'))).json).toMatchObject({
      errcode: 310000,
      errmsg: expect.stringContaining('sign not match'),
    });
    const old = now - 3_600_001;
    expect((await post(url(old, encodeURIComponent(sign('SECs', old))), text('x'))).json.errmsg).toContain(
      'timestamp',
    );
    expect((await post(fake.webhook, text('x'))).json.errmsg).toContain('timestamp');
    expect((await post(url(ts, encodeURIComponent(sign('SECother', ts))), text('x'))).json.errmsg).toContain(
      'sign not match',
    );
    expect(fake.messages).toHaveLength(1);
  });

  it('checks keywords and the shape of each msgtype', async () => {
    const { fake } = await robot({ keyword: ['部署', 'CI'] });
    expect((await post(fake.webhook, text('hello'))).json.errmsg).toContain('keywords not in content');
    expect(
      (await post(fake.webhook, { msgtype: 'markdown', markdown: { title: 'CI', text: 'x' } })).json.errcode,
    ).toBe(0);
    const bad = [
      { msgtype: 'markdown', markdown: { title: 'CI' } },
      { msgtype: 'link', link: { title: 'CI', text: 'x' } },
      { msgtype: 'actionCard', actionCard: { title: 'CI', text: 'x' } },
      { msgtype: 'actionCard', actionCard: { title: 'CI', text: 'x', btns: [{ title: 'a' }] } },
      { msgtype: 'text', text: { content: 'CI' }, at: { atMobiles: '138' } },
      'not json',
    ];
    for (const body of bad) expect((await post(fake.webhook, body)).json.errcode).toBe(40035);
    expect((await post(fake.webhook, { msgtype: 'voice', voice: {} })).json.errcode).toBe(40008);
    expect((await post(fake.webhook, text(`CI ${'x'.repeat(20_000)}`))).json.errcode).toBe(460101);
    expect(fake.messages).toHaveLength(1);
  });

  it('throttles the 21st message in a minute for 10 minutes (130101, then 410100)', async () => {
    const { fake, clock } = await robot();
    for (let i = 0; i < 20; i++) expect((await post(fake.webhook, text(`m${i}`))).json.errcode).toBe(0);
    await clock.advance(59_000);
    expect((await post(fake.webhook, text('21st'))).json.errcode).toBe(130101);
    expect(fake.throttledUntil).toBe(clock.now() + 600_000);
    await clock.advance(5 * 60_000);
    expect((await post(fake.webhook, text('during'))).json.errcode).toBe(410100);
    await clock.advance(5 * 60_000);
    expect((await post(fake.webhook, text('after'))).json.errcode).toBe(0);
    expect(fake.messages).toHaveLength(21);
    expect(fake.rejections.map((r) => r.errcode)).toEqual([130101, 410100]);
  });

  it('answers queued errcodes and accepts a now() function as its clock', async () => {
    let now = 1_000_000;
    const fake = await new FakeDingTalk({ accessToken: 't', clock: () => now, ratePerMinute: 1 }).start();
    fakes.push(fake);
    fake.failNext({ errcode: -1, errmsg: '系统繁忙' });
    expect((await post(fake.webhook, text('a'))).json.errcode).toBe(-1);
    expect((await post(fake.webhook, text('b'))).json.errcode).toBe(0);
    expect((await post(fake.webhook, text('c'))).json.errcode).toBe(130101);
    now += 600_001;
    expect((await post(fake.webhook, text('d'))).json.errcode).toBe(0);
    fake.reset();
    expect(fake.messages).toEqual([]);
  });
});
