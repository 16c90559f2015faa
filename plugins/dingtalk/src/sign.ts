import { createHmac } from 'node:crypto';

/**
 * DingTalk's 加签: base64(HmacSHA256(key = secret, `${timestamp}\n${secret}`)), not yet URL-encoded.
 * The caller puts it in a query string exactly once (see signWebhook).
 */
export function signature(secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

/**
 * The webhook URL with `timestamp` and `sign` set. URLSearchParams encodes the base64 once
 * (`+` → %2B, `/` → %2F, `=` → %3D); encoding it again is the classic cause of "sign not match".
 * A `timestamp`/`sign` already in the configured URL is replaced, never duplicated.
 */
export function signWebhook(webhook: string, secret: string | undefined, timestamp: number): string {
  if (secret === undefined) return webhook;
  const url = new URL(webhook);
  url.searchParams.set('timestamp', String(timestamp));
  url.searchParams.set('sign', signature(secret, timestamp));
  return url.toString();
}
