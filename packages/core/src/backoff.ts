/** How a subscription spaces its retries. */
export interface BackoffPolicy {
  /** Delay before the 2nd attempt. */
  initialMs: number;
  /** Upper bound of any computed delay (a Retry-After from the outside system may exceed it). */
  maxMs: number;
  /** Growth per attempt. */
  factor: number;
  /** 0..1: the share of each delay that is randomised, so retries of many events do not align. */
  jitter: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 1_000, maxMs: 5 * 60_000, factor: 2, jitter: 0.2 };

/**
 * Delay before the next attempt after `attempt` failed attempts (1-based). A Retry-After the
 * outside system sent wins over the computed backoff: asking sooner only earns another 429.
 */
export function retryDelay(
  attempt: number,
  policy: BackoffPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt - 1));
  const jittered = base * (1 - policy.jitter + policy.jitter * random());
  if (retryAfterMs !== undefined && retryAfterMs > 0) {
    // Jitter only upward from the server's delay, never earlier than it asked.
    return Math.round(retryAfterMs + retryAfterMs * policy.jitter * random() * 0.5);
  }
  return Math.round(jittered);
}
