// reflect-metadata must load before any decorated class is evaluated.
import 'reflect-metadata';

// Re-exported so plugins use the host's copy of tsyringe (one registry per process) and load it
// after reflect-metadata, whatever their own import order.
export { type DependencyContainer, type InjectionToken, inject, injectable, singleton } from 'tsyringe';
export { type BackoffPolicy, defaultBackoff, retryDelay } from './backoff.js';
export {
  Bus,
  type BusOptions,
  type DataOf,
  type EventHandler,
  type HandlerContext,
  type PublishOptions,
  type PublishResult,
  SUBSCRIPTION_DEFAULTS,
  type SubscribeOptions,
} from './bus.js';
export { type Clock, systemClock } from './clock.js';
export { currentDelivery, type DeliveryScope } from './context.js';
export { type Core, type CoreOptions, createCore } from './create.js';
export {
  type CoreErrorCode,
  ErrorCodes,
  type ErrorInfo,
  isSwitchyardError,
  PermanentError,
  RetryableError,
  SwitchyardError,
  type SwitchyardErrorOptions,
  toErrorInfo,
} from './errors.js';
export {
  builtinEvents,
  type ComparisonOperator,
  ComparisonOperatorSchema,
  DeploymentCompleted,
  type DeploymentCompletedData,
  DeploymentCompletedSchema,
  IssueTransitioned,
  type IssueTransitionedData,
  IssueTransitionedSchema,
  type MetricSample,
  MetricSampleSchema,
  MetricValidated,
  type MetricValidatedData,
  MetricValidatedSchema,
} from './events/builtin.js';
export {
  type AnyKnownEvent,
  createEnvelope,
  deepFreeze,
  type EnvelopeInput,
  type EventMap,
  type EventOf,
  type EventType,
  EventValidationError,
  envelopeSchema,
  type FieldIssue,
  type SwitchyardEvent,
  zodIssues,
} from './events/envelope.js';
export { defineEvent, type EventDefinition, EventRegistry, isEventDefinition } from './events/registry.js';
export {
  type MountedRoute,
  type PluginEntry,
  PluginHost,
  type PluginHostOptions,
  type PluginInfo,
  type PluginProblem,
  PluginValidationError,
  unwrapPlugin,
} from './host.js';
export {
  describeUrl,
  HttpClient,
  type HttpClientOptions,
  type HttpRequestOptions,
  type HttpResponse,
  parseRetryAfter,
} from './http.js';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './logger.js';
export { MemoryTransport } from './memory-transport.js';
export { SwitchyardMetrics } from './metrics.js';
export {
  type ActionContext,
  type ActionHandler,
  type ActionHandlers,
  type ActionInvoker,
  type ActionSpec,
  definePlugin,
  type InvokeOptions,
  type PluginBus,
  type PluginContext,
  type PluginDefinition,
  type PluginRuntime,
  pluginTag,
  type WebhookMethod,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookRoute,
  webhookError,
} from './plugin.js';
export { redactingDestination, Secrets } from './secrets.js';
export * from './template/index.js';
export * as tokens from './tokens.js';
export {
  ACTIONS,
  BUS,
  CLOCK,
  EVENTS,
  HTTP,
  LOGGER,
  METRICS,
  PLUGIN_CONFIG,
  SECRETS,
  STORE,
} from './tokens.js';
export {
  type AppendOptions,
  type AppendResult,
  type Consumer,
  type ConsumerSpec,
  compareEvents,
  type DeadLetter,
  type DeadLetterFilter,
  type Delivery,
  type DeliveryHandler,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryStatus,
  type EventQuery,
  type IdempotencyRecord,
  type IdempotencyStore,
  type KeyValueStore,
  type KvEntry,
  matchesTypes,
  selectTrace,
  type Transport,
  type TransportHealth,
} from './transport.js';
export { isUuidV7, uuidv7 } from './uuidv7.js';
export { CORE_VERSION } from './version.js';
