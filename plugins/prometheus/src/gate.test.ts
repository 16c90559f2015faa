// Pure rules: value parsing, durations, per-measurement judgement, verdict and reason wording.
import { describe, expect, it } from 'vitest';
import { type GateParams, judge, verdictOf } from './gate.js';
import { parseDuration } from './options.js';
import { parseSampleValue, type QuerySample } from './query.js';
import { explain, formatValue } from './reason.js';

const sample = (value: number, labels: Record<string, string> = {}): QuerySample => ({
  time: 0,
  value,
  raw: formatValue(value),
  labels,
});
const params = (over: Partial<GateParams> = {}): GateParams => ({
  query: 'q',
  operator: '<',
  expectedValue: 0.01,
  count: 1,
  initialDelay: 0,
  failureLimit: 0,
  onNoData: 'inconclusive',
  series: 'one',
  ...over,
});

describe('parseSampleValue', () => {
  it('reads Prometheus value strings, including NaN and infinities', () => {
    expect(parseSampleValue('0.032')).toBe(0.032);
    expect(parseSampleValue('1e-3')).toBe(0.001);
    expect(parseSampleValue('NaN')).toBeNaN();
    expect(parseSampleValue('+Inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseSampleValue('-Inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(() => parseSampleValue('')).toThrow('is not a number');
    expect(() => parseSampleValue(1)).toThrow('must be a string');
  });
});

describe('parseDuration', () => {
  it('reads Prometheus-style durations and milliseconds', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1500')).toBe(1_500);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('30x')).toBeUndefined();
    expect(parseDuration('s')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });
});

describe('verdict and reason', () => {
  it('fails only when more than failureLimit measurements fail, naming the values', () => {
    const p = params({ count: 5, failureLimit: 1, interval: 1_000 });
    const ms = [0.004, 0.032, 0.005, 0.041, 0.003].map((v, i) => judge([sample(v)], p, i + 1));
    const result = verdictOf(ms, p);
    expect(result).toMatchObject({ verdict: 'failed', failed: 2, passed: 3, actualValue: 0.041 });
    expect(explain('error ratio', p, result)).toBe(
      'error ratio 0.032, 0.041 > 0.01 (must be < 0.01) in 2 of 5 measurements; failureLimit 1',
    );
  });

  it('shows the relation that actually held for == and !=', () => {
    const eq = params({ operator: '==', expectedValue: 1 });
    expect(explain('replicas', eq, verdictOf([judge([sample(0)], eq)], eq))).toBe(
      'replicas 0 < 1 (must be == 1)',
    );
    const ne = params({ operator: '!=', expectedValue: 0 });
    expect(explain('errors', ne, verdictOf([judge([sample(0)], ne)], ne))).toBe(
      'errors 0 == 0 (must be != 0)',
    );
  });

  it('counts a NaN series under "all" as no data unless another series failed', () => {
    const p = params({ series: 'all' });
    expect(judge([sample(0.001), sample(Number.NaN)], p).outcome).toBe('nodata');
    expect(judge([sample(0.5), sample(Number.NaN)], p).outcome).toBe('failed');
    expect(judge([sample(0.5), sample(Number.NaN)], params({ series: 'any' })).outcome).toBe('failed');
    expect(judge([sample(0.001), sample(Number.NaN)], params({ series: 'any' })).outcome).toBe('passed');
  });

  it('reports no data and failures together when onNoData is fail', () => {
    const p = params({ count: 3, interval: 1_000, onNoData: 'fail', failureLimit: 1 });
    const ms = [judge([sample(0.5)], p, 1), judge([], p, 2)];
    const result = verdictOf(ms, p);
    expect(result.verdict).toBe('failed');
    expect(explain('error ratio', p, result)).toBe(
      'error ratio 0.5 > 0.01 (must be < 0.01) in 1 of 2 measurements; no data (the query returned no series) in 1 of 2 measurements, counted as failed (onNoData: fail); failureLimit 1; stopped after 2 of 3 planned measurements',
    );
  });

  it('keeps the Prometheus spelling of the value that decided: +Inf stays "+Inf"', () => {
    const p = params({ series: 'all', expectedValue: 1 });
    const exact = (value: number, raw: string): QuerySample => ({
      time: 0,
      value,
      raw,
      labels: { pod: raw },
    });
    const m = judge([exact(0.1, '0.1'), exact(Number.POSITIVE_INFINITY, '+Inf'), exact(0.25, '2.5e-01')], p);
    expect(m).toMatchObject({ outcome: 'failed', value: Number.POSITIVE_INFINITY, raw: '+Inf' });
    const result = verdictOf([m], p);
    expect(result).toMatchObject({ actualValue: Number.POSITIVE_INFINITY, actualRaw: '+Inf' });
    expect(explain('latency', p, result)).toBe('latency +Inf > 1 (must be < 1) on {pod="+Inf"}');

    const best = judge([exact(Number.NEGATIVE_INFINITY, '-Inf'), exact(0.25, '2.5e-01')], {
      ...p,
      series: 'any',
    });
    expect(best).toMatchObject({ outcome: 'passed', value: Number.NEGATIVE_INFINITY, raw: '-Inf' });
    const worst = judge([exact(0.5, '0.5'), exact(0.25, '2.5e-01')], p);
    expect(worst).toMatchObject({ outcome: 'passed', value: 0.5, raw: '0.5' });
    expect(verdictOf([judge([exact(Number.NaN, 'NaN')], p)], p)).toMatchObject({
      verdict: 'inconclusive',
      actualValue: null,
      actualRaw: null,
    });
  });

  it('formats values a person can read', () => {
    expect(formatValue(0.0321456)).toBe('0.03215');
    expect(formatValue(12345)).toBe('12345');
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe('+Inf');
    expect(formatValue(null)).toBe('NaN');
  });
});
