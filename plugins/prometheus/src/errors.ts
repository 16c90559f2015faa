// Every error code of @switchyard/plugin-prometheus lives here. docs/errors/prometheus.md documents
// each one with a fix; errors.test.ts fails when a code is missing there.

export const PrometheusErrorCodes = {
  // the query and its answer
  /** Prometheus rejected the query: bad_data (400) or execution (422). Permanent. */
  BAD_QUERY: 'SY_PROMETHEUS_BAD_QUERY',
  /** The query returned a range vector (matrix) or a string, which a gate cannot judge. Permanent. */
  UNSUPPORTED_RESULT: 'SY_PROMETHEUS_UNSUPPORTED_RESULT',
  /** The answer is not the Prometheus API's JSON (a proxy page, a wrong URL). Permanent. */
  BAD_RESPONSE: 'SY_PROMETHEUS_BAD_RESPONSE',
  // reaching Prometheus
  /** 401/403: the token or username + password is wrong or missing. Permanent. */
  AUTH: 'SY_PROMETHEUS_AUTH',
  /** 404 or another 4xx: options.url does not point at the Prometheus API. Permanent. */
  HTTP: 'SY_PROMETHEUS_HTTP',
  /** 503, 429 or 5xx (query timeout, overload, restart). Retryable. */
  UNAVAILABLE: 'SY_PROMETHEUS_UNAVAILABLE',
  /** No answer within timeoutMs. Retryable. */
  TIMEOUT: 'SY_PROMETHEUS_TIMEOUT',
  /** Connection refused, reset or DNS failure. Retryable. */
  UNREACHABLE: 'SY_PROMETHEUS_UNREACHABLE',
  // Alertmanager notifications received on /webhooks/prometheus/alertmanager
  /** 401: the notification came without the configured credentials. */
  ALERTMANAGER_AUTH: 'SY_PROMETHEUS_ALERTMANAGER_AUTH',
  /** 400: not JSON, not payload version 4, or not an Alertmanager notification. */
  ALERTMANAGER_INVALID: 'SY_PROMETHEUS_ALERTMANAGER_INVALID',
  /** 503: the alerts could not be stored; Alertmanager retries. */
  ALERTMANAGER_STORE_FAILED: 'SY_PROMETHEUS_ALERTMANAGER_STORE_FAILED',
} as const;

export type PrometheusErrorCode = (typeof PrometheusErrorCodes)[keyof typeof PrometheusErrorCodes];
