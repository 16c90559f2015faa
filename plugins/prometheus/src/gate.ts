import type { Clock, ComparisonOperator } from '@switchyard/core';
import type { ValidateParams } from './options.js';
import type { PrometheusClient, QuerySample } from './query.js';

/**
 * What one measurement showed, before onNoData is applied:
 * - passed / failed: the compared value(s) met / missed the expectation;
 * - nodata: no series, or only NaN values;
 * - ambiguous: several series while `series` is "one".
 */
export type MeasurementOutcome = 'passed' | 'failed' | 'nodata' | 'ambiguous';

export interface Measurement {
  /** 1-based. */
  index: number;
  samples: QuerySample[];
  outcome: MeasurementOutcome;
  /** How the measurement counts toward the verdict (nodata mapped through onNoData). */
  counts: 'passed' | 'failed' | 'inconclusive';
  /** The series whose values missed the expectation (failed measurements). */
  failing: QuerySample[];
  /** The value that stands for this measurement: the worst series for "all", the best for "any". */
  value: number | null;
  /** That value as Prometheus wrote it ("+Inf", "0.032"…); null when value is. */
  raw: string | null;
}

export type Verdict = 'passed' | 'failed' | 'inconclusive';

export interface GateResult {
  verdict: Verdict;
  measurements: Measurement[];
  /** Measurements planned (count); fewer were taken when the gate stopped early on failures. */
  planned: number;
  failed: number;
  inconclusive: number;
  passed: number;
  /** The value reported as actualValue: from the last failed measurement when the gate failed, else the last one. */
  actualValue: number | null;
  /** actualValue as Prometheus wrote it; null when actualValue is. */
  actualRaw: string | null;
}

export type GateParams = Pick<
  ValidateParams,
  | 'query'
  | 'operator'
  | 'expectedValue'
  | 'count'
  | 'interval'
  | 'initialDelay'
  | 'failureLimit'
  | 'onNoData'
  | 'series'
>;

export function compare(actual: number, operator: ComparisonOperator, expected: number): boolean {
  switch (operator) {
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
  }
}

/** Judges one query answer against the expectation, following the `series` rule. */
export function judge(samples: QuerySample[], params: GateParams, index = 1): Measurement {
  const { operator, expectedValue: expected } = params;
  const ok = (s: QuerySample) => compare(s.value, operator, expected);
  const withData = samples.filter((s) => !Number.isNaN(s.value));
  const base = { index, samples, failing: [] as QuerySample[] };
  const counted = (outcome: MeasurementOutcome): Measurement['counts'] =>
    outcome === 'nodata'
      ? params.onNoData === 'pass'
        ? 'passed'
        : params.onNoData === 'fail'
          ? 'failed'
          : 'inconclusive'
      : outcome === 'ambiguous'
        ? 'inconclusive'
        : outcome;
  const make = (
    outcome: MeasurementOutcome,
    decisive: QuerySample | null,
    failing: QuerySample[] = [],
  ): Measurement => ({
    ...base,
    outcome,
    counts: counted(outcome),
    failing,
    value: decisive?.value ?? null,
    raw: decisive?.raw ?? null,
  });

  if (params.series === 'one' && samples.length > 1) return make('ambiguous', null);
  if (withData.length === 0) return make('nodata', null);
  const failing = withData.filter((s) => !ok(s));
  if (params.series === 'any') {
    const passing = withData.filter(ok);
    if (passing.length > 0) return make('passed', pick(passing, operator, 'best'));
    return make('failed', pick(withData, operator, 'best'), failing);
  }
  // "one" (a single series) and "all": every series with data must pass; NaN series are no data.
  if (failing.length > 0) return make('failed', pick(failing, operator, 'worst'), failing);
  if (withData.length < samples.length) return make('nodata', null);
  return make('passed', pick(withData, operator, 'worst'));
}

/** The sample with the worst (closest to failing or furthest past it) or best value for the operator. */
function pick(samples: QuerySample[], operator: ComparisonOperator, which: 'worst' | 'best'): QuerySample {
  if (operator === '==' || operator === '!=') return samples[0]!;
  const high = (which === 'worst') === (operator === '<' || operator === '<=');
  return samples.reduce((kept, s) => ((high ? s.value > kept.value : s.value < kept.value) ? s : kept));
}

/** Tallies measurements into a verdict: failed when more than failureLimit failed, else inconclusive if any was. */
export function verdictOf(
  measurements: Measurement[],
  params: Pick<GateParams, 'count' | 'failureLimit'>,
): GateResult {
  const failed = measurements.filter((m) => m.counts === 'failed').length;
  const inconclusive = measurements.filter((m) => m.counts === 'inconclusive').length;
  const passed = measurements.length - failed - inconclusive;
  const verdict: Verdict =
    failed > params.failureLimit ? 'failed' : inconclusive > 0 ? 'inconclusive' : 'passed';
  const lastFailed = [...measurements].reverse().find((m) => m.counts === 'failed');
  const decisive = verdict === 'failed' ? lastFailed : measurements.at(-1);
  return {
    verdict,
    measurements,
    planned: params.count,
    failed,
    inconclusive,
    passed,
    actualValue: decisive?.value ?? null,
    actualRaw: decisive?.raw ?? null,
  };
}

export interface RunGateOptions {
  client: PrometheusClient;
  clock: Clock;
  signal: AbortSignal;
  /** Called after each measurement (logging). */
  onMeasurement?: (measurement: Measurement) => void;
}

/**
 * Takes `count` measurements `interval` apart (after `initialDelay`), waiting on the clock with the
 * delivery's signal, so a long gate only holds a timer and aborts promptly. Stops early once more
 * than `failureLimit` measurements failed: the verdict cannot change any more.
 */
export async function runGate(params: GateParams, options: RunGateOptions): Promise<GateResult> {
  const { client, clock, signal } = options;
  const measurements: Measurement[] = [];
  if (params.initialDelay > 0) await clock.sleep(params.initialDelay, signal);
  for (let index = 1; index <= params.count; index++) {
    if (index > 1) await clock.sleep(params.interval ?? 0, signal);
    signal.throwIfAborted();
    const result = await client.query(params.query, signal);
    const measurement = judge(result.samples, params, index);
    measurements.push(measurement);
    options.onMeasurement?.(measurement);
    if (measurements.filter((m) => m.counts === 'failed').length > params.failureLimit) break;
  }
  return verdictOf(measurements, params);
}
