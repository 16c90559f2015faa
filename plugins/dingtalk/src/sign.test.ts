import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signature, signWebhook } from './sign.js';

const webhook = 'https://oapi.dingtalk.com/robot/send?access_token=abc123';

describe('signing', () => {
  it('computes base64(HmacSHA256(secret, timestamp + "\\n" + secret))', () => {
    const expected = createHmac('sha256', 'SECkey').update('1700000000000\nSECkey').digest('base64');
    expect(signature('SECkey', 1700000000000)).toBe(expected);
  });

  it('appends timestamp and sign once, URL-encoded exactly once', () => {
    // Find a timestamp whose signature has the characters that need encoding.
    let ts = 1700000000000;
    while (!/[+/=]/.test(signature('SECkey', ts)) || !signature('SECkey', ts).includes('+')) ts++;
    const signed = signWebhook(webhook, 'SECkey', ts);
    const query = signed.split('?')[1]!;
    expect(query.match(/sign=/g)).toHaveLength(1);
    expect(query.match(/timestamp=/g)).toHaveLength(1);
    expect(query).not.toContain('%25'); // never encoded twice
    expect(query).toContain('%2B');
    const raw = /sign=([^&]*)/.exec(query)![1]!;
    expect(decodeURIComponent(raw)).toBe(signature('SECkey', ts));
    expect(new URL(signed).searchParams.get('access_token')).toBe('abc123');
    expect(new URL(signed).searchParams.get('timestamp')).toBe(String(ts));
  });

  it('leaves the webhook as it is without a secret', () => {
    expect(signWebhook(webhook, undefined, 1)).toBe(webhook);
  });
});
