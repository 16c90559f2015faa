import { describe, expect, it } from 'vitest';
import { SlackOptionsSchema } from './options.js';

function problems(input: unknown): string[] {
  const result = SlackOptionsSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('options', () => {
  it('takes a webhook URL, or a token and a channel, with defaults', () => {
    expect(SlackOptionsSchema.parse({ webhookUrl: 'https://hooks.slack.com/services/T/B/x' })).toMatchObject({
      apiUrl: 'https://slack.com/api',
      broadcastFailures: true,
      timeoutMs: 10_000,
      minIntervalMs: 1_000,
    });
    expect(problems({ token: 'xoxb-1', channel: 'C1', signingSecret: 's' })).toEqual([]);
  });

  it('names the option to fix', () => {
    expect(problems({})).toEqual([expect.stringMatching(/^token: set webhookUrl .* or token/)]);
    expect(problems({ token: 'xoxb-1' })).toEqual([
      expect.stringMatching(/^channel: with token, set channel/),
    ]);
    expect(problems({ webhookUrl: 'https://h/x', token: 'xoxb-1', channel: 'C1' })).toEqual([
      expect.stringMatching(/^webhookUrl: set either/),
    ]);
    expect(problems({ webhookUrl: 'ftp://h/x' })).toEqual([
      expect.stringMatching(/^webhookUrl: must be an http/),
    ]);
    expect(problems({ token: 'xoxb-1', channel: 'C1', tokn: 'typo' })[0]).toMatch(/tokn/);
  });
});
