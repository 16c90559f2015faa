import {
  definePlugin,
  MetricValidated,
  type MetricValidatedData,
  type SwitchyardEvent,
} from '@switchyard/core';
import { alertmanagerRoute } from './alertmanager.js';
import { AlertFired } from './events.js';
import { type GateResult, type Measurement, runGate } from './gate.js';
import { PrometheusOptionsSchema, type ValidateParams, ValidateParamsSchema } from './options.js';
import { PrometheusClient, type QuerySample } from './query.js';
import { explain } from './reason.js';

export const PLUGIN_VERSION = '0.1.0';

/** At most this many samples ride on one MetricValidated event; the verdict still judges them all. */
export const MAX_SAMPLES = 200;

/** What `prometheus.validate` returns (and records with the delivery): the event's data and its id. */
export type ValidateResult = MetricValidatedData & { eventId: string };

export const prometheusPlugin = definePlugin({
  id: 'prometheus',
  version: PLUGIN_VERSION,
  core: '^0.1.0',
  description: 'Metric gates against Prometheus (MetricValidated) and Alertmanager webhooks (AlertFired).',
  config: PrometheusOptionsSchema,
  emits: [AlertFired],
  actions: {
    validate: {
      description:
        'Runs a PromQL query count times, interval apart, compares it with expectedValue and emits MetricValidated with the verdict and a one-line reason.',
      params: ValidateParamsSchema,
      emits: [MetricValidated.type],
    },
  },
  setup(ctx) {
    const options = ctx.config;
    for (const secret of [
      options.token,
      options.password,
      options.alertmanager?.token,
      options.alertmanager?.password,
    ]) {
      ctx.secrets.add(secret);
    }
    const client = new PrometheusClient(ctx.http, options);
    if (!options.alertmanager?.token && !options.alertmanager?.username) {
      ctx.logger.info(
        'the Alertmanager webhook accepts unauthenticated requests; set options.alertmanager.token or username + password to require credentials',
      );
    }
    return {
      routes: [alertmanagerRoute({ bus: ctx.bus, logger: ctx.logger, auth: options.alertmanager })],
      actions: {
        async validate(params, action): Promise<ValidateResult> {
          const check = params.check ?? defaultCheckName(params.query);
          const result = await runGate(params, {
            client,
            clock: ctx.clock,
            signal: action.signal,
            // value as Prometheus wrote it: JSON logs would turn ±Infinity into null, like no data.
            onMeasurement: (m) =>
              action.logger.debug(
                { check, measurement: m.index, of: params.count, outcome: m.outcome, value: m.raw },
                'prometheus measurement',
              ),
          });
          const data = metricValidated(check, params, result, action.cause);
          const published = await action.emit('MetricValidated', data, {
            ...(data.service ? { subject: data.service } : {}),
            ...(action.idempotencyKey ? { deliveryKey: `prometheus.validate:${action.idempotencyKey}` } : {}),
          });
          action.logger.info({ check, verdict: data.verdict, reason: data.reason }, 'metric gate evaluated');
          return { ...data, eventId: published.event.id };
        },
      },
      health: async () => ({
        ok: true,
        detail: `queries ${client.endpoint.replace(/\/api\/v1\/query$/, '')}`,
      }),
    };
  },
});

/** A readable default name: the query with whitespace collapsed, cut at 80 characters. */
export function defaultCheckName(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}

/**
 * JSON cannot carry ±Infinity and the event schema takes finite numbers: clamp to ±Number.MAX_VALUE.
 * `raw` / `actualRaw` carry Prometheus' own spelling ("+Inf") for anyone who shows the value.
 */
function finite(value: number | null): number | null {
  if (value === null || Number.isNaN(value)) return null;
  if (value === Number.POSITIVE_INFINITY) return Number.MAX_VALUE;
  if (value === Number.NEGATIVE_INFINITY) return -Number.MAX_VALUE;
  return value;
}

function toSamples(measurements: Measurement[]): MetricValidatedData['samples'] {
  const all: QuerySample[] = measurements.flatMap((m) => m.samples);
  return all.slice(0, MAX_SAMPLES).map((s) => ({
    time: new Date(s.time).toISOString(),
    value: finite(s.value),
    raw: s.raw,
    labels: s.labels,
  }));
}

/** service, environment and issueKeys: from params when given, else from the causing event's data. */
export function contextOf(
  params: Pick<ValidateParams, 'service' | 'environment' | 'issueKeys'>,
  cause: SwitchyardEvent | undefined,
): Pick<MetricValidatedData, 'service' | 'environment' | 'issueKeys'> {
  const data = (cause?.data ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const keys = Array.isArray(data.issueKeys)
    ? data.issueKeys.filter((k): k is string => typeof k === 'string' && k.length > 0)
    : text(data.issueKey)
      ? [data.issueKey as string]
      : undefined;
  const service = params.service ?? text(data.service);
  const environment = params.environment ?? text(data.environment);
  const issueKeys = params.issueKeys ?? keys;
  return {
    ...(service ? { service } : {}),
    ...(environment ? { environment } : {}),
    ...(issueKeys ? { issueKeys } : {}),
  };
}

export function metricValidated(
  check: string,
  params: ValidateParams,
  result: GateResult,
  cause: SwitchyardEvent | undefined,
): MetricValidatedData {
  return {
    check,
    query: params.query,
    operator: params.operator,
    expectedValue: params.expectedValue,
    actualValue: finite(result.actualValue),
    ...(result.actualRaw !== null ? { actualRaw: result.actualRaw } : {}),
    verdict: result.verdict,
    passed: result.verdict === 'passed',
    samples: toSamples(result.measurements),
    reason: explain(check, params, result),
    ...contextOf(params, cause),
  };
}
