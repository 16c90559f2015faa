import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The metrics every part of Switchyard reports, on one prom-client registry that the runner
 * exposes at /metrics. Plugins receive the registry (METRICS token) to add their own.
 */
export class SwitchyardMetrics {
  readonly registry: Registry;
  readonly eventsPublished: Counter<'type' | 'duplicate'>;
  readonly deliveries: Counter<'subscription' | 'type' | 'outcome'>;
  readonly retries: Counter<'subscription' | 'type'>;
  readonly deadLettered: Counter<'subscription' | 'type'>;
  readonly handlerDuration: Histogram<'subscription' | 'type'>;
  readonly httpRequests: Counter<'plugin' | 'method' | 'status'>;
  readonly dlqSize: Gauge;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.eventsPublished = new Counter({
      name: 'switchyard_events_published_total',
      help: 'Events appended to the store, by type; duplicate="true" counts deduplicated ingest.',
      labelNames: ['type', 'duplicate'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'switchyard_deliveries_total',
      help: 'Handler attempts by subscription, event type and outcome (delivered, failed, dead_lettered).',
      labelNames: ['subscription', 'type', 'outcome'],
      registers,
    });
    this.retries = new Counter({
      name: 'switchyard_delivery_retries_total',
      help: 'Failed attempts that will be retried.',
      labelNames: ['subscription', 'type'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'switchyard_dead_lettered_total',
      help: 'Deliveries moved to the dead-letter queue.',
      labelNames: ['subscription', 'type'],
      registers,
    });
    this.handlerDuration = new Histogram({
      name: 'switchyard_handler_duration_seconds',
      help: 'Handler run time per attempt.',
      labelNames: ['subscription', 'type'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'switchyard_http_requests_total',
      help: 'Outbound HTTP calls made by plugins, by plugin, method and status (or "error").',
      labelNames: ['plugin', 'method', 'status'],
      registers,
    });
    this.dlqSize = new Gauge({
      name: 'switchyard_dlq_size',
      help: 'Dead letters currently stored (sampled at scrape time when the runner sets a collector).',
      registers,
    });
  }
}
