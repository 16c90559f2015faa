import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock, KeyValueStore } from '@switchyard/core';

/** Slack rejects requests whose timestamp is further than this from now; so do we. */
export const MAX_SKEW_SECONDS = 5 * 60;

/** `v0=` + hex HMAC-SHA256(signingSecret, `v0:{timestamp}:{raw body}`), as Slack signs requests. */
export function signSlackRequest(
  signingSecret: string,
  timestamp: string | number,
  rawBody: Buffer | string,
) {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

export type VerifyResult = { ok: true; signature: string } | { ok: false; status: number; reason: string };

/**
 * Checks X-Slack-Signature and X-Slack-Request-Timestamp: the timestamp within 5 minutes of now,
 * the signature compared in constant time. Reasons never echo the expected signature.
 */
export function verifySlackRequest(
  signingSecret: string,
  headers: Record<string, string | undefined>,
  rawBody: Buffer,
  nowMs: number,
): VerifyResult {
  const signature = headers['x-slack-signature'];
  const timestamp = headers['x-slack-request-timestamp'];
  if (!signature || !timestamp) {
    return {
      ok: false,
      status: 401,
      reason: 'missing X-Slack-Signature or X-Slack-Request-Timestamp header',
    };
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, status: 401, reason: 'X-Slack-Request-Timestamp is not a Unix time in seconds' };
  }
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) {
    return {
      ok: false,
      status: 401,
      reason:
        'X-Slack-Request-Timestamp is more than 5 minutes away from now (replay, or a clock out of sync)',
    };
  }
  const expected = Buffer.from(signSlackRequest(signingSecret, timestamp, rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // timingSafeEqual needs equal lengths; compare against itself so both paths take the same time.
  const same =
    given.length === expected.length
      ? timingSafeEqual(given, expected)
      : !timingSafeEqual(expected, expected);
  if (!same) {
    return {
      ok: false,
      status: 401,
      reason:
        'X-Slack-Signature does not match: check plugins.slack.options.signingSecret (Basic Information → Signing Secret)',
    };
  }
  return { ok: true, signature };
}

interface Seen {
  at: number;
}

/**
 * Remembers the signatures of accepted requests for as long as their timestamp is acceptable, in the
 * plugin store (shared by every runner), so a captured request sent again is refused.
 */
export class ReplayGuard {
  #lastPrune = 0;

  constructor(
    private readonly store: KeyValueStore,
    private readonly clock: Clock,
  ) {}

  /** true when the signature is new (and now recorded); false for a replay. */
  async claim(signature: string): Promise<boolean> {
    const now = this.clock.now();
    await this.prune(now);
    const key = `seen:${signature.slice(3)}`;
    const revision = await this.store.compareAndSet<Seen>(key, { at: now }, 0);
    return revision !== undefined;
  }

  private async prune(now: number): Promise<void> {
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    const horizon = now - 2 * MAX_SKEW_SECONDS * 1000;
    for (const key of await this.store.keys('seen:')) {
      const entry = await this.store.get<Seen>(key);
      if (entry && entry.value.at < horizon) await this.store.delete(key);
    }
  }
}
