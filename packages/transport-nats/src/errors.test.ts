import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NatsErrorCodes, redact } from './errors.js';

describe('error codes', () => {
  it('documents every code with a fix in docs/errors/transport-nats.md', () => {
    const doc = readFileSync(new URL('../../../docs/errors/transport-nats.md', import.meta.url), 'utf8');
    const missing = Object.values(NatsErrorCodes).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('keeps credentials out of messages', () => {
    expect(redact('cannot connect to nats://alice:s3cret@n1:4222')).toBe(
      'cannot connect to nats://***@n1:4222',
    );
  });
});
