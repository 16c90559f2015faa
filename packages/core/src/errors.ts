// Every error code of @switchyard/core lives here. docs/errors.md documents each one with a fix;
// errors.test.ts fails when a code is missing there.

const ERROR_TAG = Symbol.for('switchyard.error');

export interface ErrorInfo {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  /** Extra, non-secret facts that help a person act (plugin id, config path, status code…). */
  details?: Record<string, unknown>;
}

export interface SwitchyardErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * Base class of every Switchyard error. `retryable` tells the bus whether another attempt can help;
 * `retryAfterMs` is the delay the outside system asked for (Retry-After), honoured by the bus.
 * Recognised across copies of the package by a Symbol.for tag, never by `instanceof`.
 */
export class SwitchyardError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
    Object.defineProperty(this, ERROR_TAG, { value: true });
  }

  toJSON(): ErrorInfo {
    return toErrorInfo(this);
  }
}

export function isSwitchyardError(value: unknown): value is SwitchyardError {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ERROR_TAG] === true
  );
}

/** A failure the bus should retry (outside system down, throttled, timed out). */
export class RetryableError extends SwitchyardError {
  constructor(code: string, message: string, options: Omit<SwitchyardErrorOptions, 'retryable'> = {}) {
    super(code, message, { ...options, retryable: true });
    this.name = 'RetryableError';
  }
}

/** A failure no retry can fix (bad credentials, unknown issue, invalid params). */
export class PermanentError extends SwitchyardError {
  constructor(code: string, message: string, options: Omit<SwitchyardErrorOptions, 'retryable'> = {}) {
    super(code, message, { ...options, retryable: false });
    this.name = 'PermanentError';
  }
}

/** Normalises anything thrown into the record the bus stores with a delivery. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (isSwitchyardError(error)) {
    const info: ErrorInfo = { code: error.code, message: error.message, retryable: error.retryable };
    if (error.retryAfterMs !== undefined) info.retryAfterMs = error.retryAfterMs;
    if (error.details !== undefined) info.details = error.details;
    return info;
  }
  if (error instanceof Error) {
    const e = error as Error & { retryable?: unknown; retryAfterMs?: unknown; code?: unknown };
    const info: ErrorInfo = {
      code: typeof e.code === 'string' ? e.code : 'SY_HANDLER_FAILED',
      message: error.message || error.name,
      // Unknown errors are retried: a plain throw is usually a bug or an outage, and dead-lettering on
      // the first try would lose work a redeploy could save.
      retryable: typeof e.retryable === 'boolean' ? e.retryable : true,
    };
    if (typeof e.retryAfterMs === 'number') info.retryAfterMs = e.retryAfterMs;
    return info;
  }
  return { code: 'SY_HANDLER_FAILED', message: String(error), retryable: true };
}

export const ErrorCodes = {
  // events
  EVENT_UNKNOWN_TYPE: 'SY_EVENT_UNKNOWN_TYPE',
  EVENT_INVALID: 'SY_EVENT_INVALID',
  EVENT_TYPE_CONFLICT: 'SY_EVENT_TYPE_CONFLICT',
  // delivery
  HANDLER_FAILED: 'SY_HANDLER_FAILED',
  HANDLER_TIMEOUT: 'SY_HANDLER_TIMEOUT',
  SUBSCRIPTION_EXISTS: 'SY_SUBSCRIPTION_EXISTS',
  TRANSPORT_CLOSED: 'SY_TRANSPORT_CLOSED',
  // plugins
  PLUGIN_INVALID: 'SY_PLUGIN_INVALID',
  PLUGIN_CONFIG_INVALID: 'SY_PLUGIN_CONFIG_INVALID',
  PLUGIN_CORE_MISMATCH: 'SY_PLUGIN_CORE_MISMATCH',
  PLUGIN_DUPLICATE: 'SY_PLUGIN_DUPLICATE',
  PLUGIN_DEPENDENCY_MISSING: 'SY_PLUGIN_DEPENDENCY_MISSING',
  PLUGIN_DEPENDENCY_CYCLE: 'SY_PLUGIN_DEPENDENCY_CYCLE',
  PLUGIN_START_FAILED: 'SY_PLUGIN_START_FAILED',
  PLUGIN_START_TIMEOUT: 'SY_PLUGIN_START_TIMEOUT',
  PLUGIN_STOP_FAILED: 'SY_PLUGIN_STOP_FAILED',
  CORE_DUPLICATE: 'SY_CORE_DUPLICATE',
  HOST_STATE: 'SY_HOST_STATE',
  // actions
  ACTION_UNKNOWN: 'SY_ACTION_UNKNOWN',
  ACTION_PARAMS_INVALID: 'SY_ACTION_PARAMS_INVALID',
  // outbound http
  HTTP_TIMEOUT: 'SY_HTTP_TIMEOUT',
  HTTP_NETWORK: 'SY_HTTP_NETWORK',
  HTTP_STATUS: 'SY_HTTP_STATUS',
  // templates and conditions
  TEMPLATE_SYNTAX: 'SY_TEMPLATE_SYNTAX',
  TEMPLATE_MISSING_PATH: 'SY_TEMPLATE_MISSING_PATH',
  TEMPLATE_FILTER: 'SY_TEMPLATE_FILTER',
  CONDITION_SYNTAX: 'SY_CONDITION_SYNTAX',
  CONDITION_EVAL: 'SY_CONDITION_EVAL',
} as const;

export type CoreErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
