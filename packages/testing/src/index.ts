export { ManualClock, settle } from './clock.js';
export {
  type ConformanceOptions,
  type ConformanceSubject,
  eventually,
  transportConformance,
} from './conformance.js';
export * from './fakes/dingtalk.js';
export * from './fakes/jira.js';
export {
  type FakeHandler,
  FakeHttpServer,
  type FakeReply,
  type FakeRequest,
  type Fault,
} from './fakes/server.js';
export * from './fakes/slack.js';
export { createGitRemote } from './git-remote.js';
export {
  createTestHost,
  type TestHost,
  type TestHostOptions,
  type TestPlugin,
  type WebhookCall,
} from './host.js';
export { type RecordedCall, recordHttp } from './http-recorder.js';
export { RacingStore, skewedClock } from './runners.js';
export { findNatsServer, type NatsServer, type NatsServerOptions, startNatsServer } from './servers/nats.js';
export {
  type Exporter,
  findPrometheus,
  type PrometheusServer,
  prometheusSkipReason,
  startExporter,
  startPrometheus,
} from './servers/prometheus.js';
