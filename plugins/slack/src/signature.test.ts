import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackRequest } from './signature.js';

// The example from Slack's "Verifying requests from Slack" guide.
const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const timestamp = '1531420618';
const body =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const expected = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

describe('Slack request signatures', () => {
  it("matches the example in Slack's documentation", () => {
    expect(signSlackRequest(secret, timestamp, body)).toBe(expected);
    const headers = { 'x-slack-signature': expected, 'x-slack-request-timestamp': timestamp };
    expect(verifySlackRequest(secret, headers, Buffer.from(body), Number(timestamp) * 1000 + 30_000)).toEqual(
      {
        ok: true,
        signature: expected,
      },
    );
  });

  it('refuses a signature of another length, a non-numeric timestamp and a clock 5+ minutes off', () => {
    const now = Number(timestamp) * 1000;
    const check = (headers: Record<string, string>, at = now) =>
      verifySlackRequest(secret, headers, Buffer.from(body), at);
    expect(check({ 'x-slack-signature': 'v0=abc', 'x-slack-request-timestamp': timestamp })).toMatchObject({
      ok: false,
    });
    expect(check({ 'x-slack-signature': expected, 'x-slack-request-timestamp': 'yesterday' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/Unix time/),
    });
    expect(
      check({ 'x-slack-signature': expected, 'x-slack-request-timestamp': timestamp }, now + 301_000),
    ).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/5 minutes/),
    });
    const upper = expected.toUpperCase().replace('V0=', 'v0=');
    expect(check({ 'x-slack-signature': upper, 'x-slack-request-timestamp': timestamp })).toMatchObject({
      ok: false,
    });
  });
});
