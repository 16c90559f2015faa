// Every error code of @switchyard/transport-nats lives here. docs/errors/transport-nats.md documents
// each one with a fix; errors.test.ts fails when a code is missing there.
import { PermanentError, RetryableError } from '@switchyard/core';

export const NatsErrorCodes = {
  /** No server of the list answered at open(). */
  CONNECT: 'SY_NATS_CONNECT',
  /** The server or account has no JetStream. */
  JETSTREAM_UNAVAILABLE: 'SY_NATS_JETSTREAM_UNAVAILABLE',
  /** Options given to the constructor are unusable. */
  CONFIG_INVALID: 'SY_NATS_CONFIG_INVALID',
  /** A method was called before open() or after close(). */
  NOT_OPEN: 'SY_NATS_NOT_OPEN',
  /** A stream exists with a configuration that clashes with ours. */
  STREAM_CONFLICT: 'SY_NATS_STREAM_CONFLICT',
  /** A durable consumer exists with a configuration that cannot be updated to ours. */
  CONSUMER_CONFLICT: 'SY_NATS_CONSUMER_CONFLICT',
  /** A publish to JetStream (event, dead letter, replay) was not acknowledged. */
  PUBLISH_FAILED: 'SY_NATS_PUBLISH_FAILED',
  /** A delivery kept coming back without an outcome (its runners died or lost NATS each time). */
  DELIVERY_ABANDONED: 'SY_NATS_DELIVERY_ABANDONED',
  /** A read or write of JetStream state (KV, index, stream message) failed. */
  STORE_FAILED: 'SY_NATS_STORE_FAILED',
} as const;

export type NatsErrorCode = (typeof NatsErrorCodes)[keyof typeof NatsErrorCodes];

/** A failure that another try can fix (server unreachable, timeout, leader election). */
export function natsRetryable(
  code: NatsErrorCode,
  message: string,
  cause?: unknown,
  details?: Record<string, unknown>,
): RetryableError {
  return new RetryableError(code, withCause(message, cause), { cause, details });
}

/** A failure that needs a person (conflicting configuration, bad options). */
export function natsPermanent(
  code: NatsErrorCode,
  message: string,
  cause?: unknown,
  details?: Record<string, unknown>,
): PermanentError {
  return new PermanentError(code, withCause(message, cause), { cause, details });
}

function withCause(message: string, cause: unknown): string {
  if (cause === undefined) return message;
  const text = cause instanceof Error ? cause.message : String(cause);
  return `${message}: ${redact(text)}`;
}

/** Removes credentials from anything that may carry a server URL (user:pass@host, tokens). */
export function redact(text: string): string {
  return text.replace(/([a-z]+:\/\/)[^@/\s]+@/gi, '$1***@');
}
