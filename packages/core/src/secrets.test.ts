import { describe, expect, it } from 'vitest';
import { createLogger, Secrets } from './index.js';

describe('secrets', () => {
  it('masks every registered value, URL-encoded forms too, and ignores trivially short ones', () => {
    const s = new Secrets();
    s.add('s3cr3t-token');
    s.add('p@ss word');
    s.add('abc');
    expect(s.redact('Authorization: Bearer s3cr3t-token')).toBe('Authorization: Bearer [redacted]');
    expect(s.redact('https://x/?pw=p%40ss%20word')).toBe('https://x/?pw=[redacted]');
    expect(s.redact('abc')).toBe('abc');
    expect(s.redactValue({ nested: ['s3cr3t-token'] })).toEqual({ nested: ['[redacted]'] });
  });

  it('keeps secrets out of log lines, whatever field they hide in', () => {
    const lines: string[] = [];
    const secrets = new Secrets();
    secrets.add('xoxb-very-secret');
    const logger = createLogger({ secrets, destination: { write: (l: string) => lines.push(l) } });
    logger.error(
      {
        err: new Error('upstream said: invalid token xoxb-very-secret'),
        headers: { authorization: 'Bearer x' },
      },
      'post failed',
    );
    logger.info({ url: 'https://slack.com/api?token=xoxb-very-secret' }, 'calling');
    expect(lines.join('')).not.toContain('xoxb-very-secret');
    expect(lines.join('')).not.toContain('Bearer x');
    expect(lines[0]).toContain('[redacted]');
  });
});
