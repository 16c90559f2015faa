// prometheus.validate against the real Prometheus binary (Debian's package), scraping a tiny exporter.
import { isSwitchyardError, type MetricValidatedData, systemClock } from '@switchyard/core';
import {
  createTestHost,
  type Exporter,
  type PrometheusServer,
  prometheusSkipReason,
  startExporter,
  startPrometheus,
  type TestHost,
} from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import plugin, { type ValidateResult } from './index.js';

const EXPOSITION = `# TYPE sy_error_ratio gauge
sy_error_ratio{service="checkout"} 0.004
sy_error_ratio{service="payments"} 0.032
sy_nan_ratio NaN
sy_inf_latency +Inf
sy_pod_latency_seconds{pod="a"} 0.1
sy_pod_latency_seconds{pod="b"} 0.3
sy_pod_latency_seconds{pod="c"} 0.2
`;

const skip = prometheusSkipReason();

// One Prometheus for the file: its first scrape takes ~5 s (target discovery settles first).
let exporter: Exporter;
let prometheus: PrometheusServer;

beforeAll(async () => {
  if (skip) return;
  exporter = await startExporter(`${EXPOSITION}sy_changing 0.001\n`);
  prometheus = await startPrometheus({ scrapeTargets: [exporter.target] });
  await prometheus.waitForSeries('sy_pod_latency_seconds');
});

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

describe.skipIf(skip)('prometheus.validate on a real Prometheus', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost({
      plugins: [{ plugin, options: { url: prometheus.url } }],
      clock: systemClock,
    });
  });

  afterAll(async () => {
    await host?.close();
  });

  const validate = (params: Record<string, unknown>, options = {}) =>
    host.invoke('prometheus.validate', params, options) as Promise<ValidateResult>;

  it('passes a healthy service, emits MetricValidated caused by the deployment and carries its context', async () => {
    const deployment = await host.receive('DeploymentCompleted', {
      service: 'checkout',
      environment: 'production',
      version: '1.4.2',
      outcome: 'succeeded',
      issueKeys: ['PROJ-7', 'PROJ-9'],
    });
    const result = await validate(
      {
        check: 'error ratio',
        query: 'sy_error_ratio{service="checkout"}',
        operator: '<',
        expectedValue: 0.01,
      },
      { cause: deployment.event },
    );
    expect(result).toMatchObject({
      check: 'error ratio',
      verdict: 'passed',
      passed: true,
      actualValue: 0.004,
      reason: 'error ratio 0.004 < 0.01',
      service: 'checkout',
      environment: 'production',
      issueKeys: ['PROJ-7', 'PROJ-9'],
    });
    expect(result.samples).toHaveLength(1);
    expect(result.samples[0]).toMatchObject({
      value: 0.004,
      labels: { service: 'checkout', job: 'switchyard-test' },
    });
    expect(Date.parse(result.samples[0]!.time)).toBeGreaterThan(Date.now() - 60_000);
    const event = await host.waitFor('MetricValidated', (e) => e.id === result.eventId);
    expect(event.causationid).toBe(deployment.event.id);
    expect(event.correlationid).toBe(deployment.event.correlationid);
    const { eventId: _id, ...data } = result;
    expect(event.data).toEqual(data);
  });

  it('fails and says which value failed against which expectation', async () => {
    const result = await validate({
      check: 'error ratio',
      query: 'sy_error_ratio{service="payments"}',
      operator: '<',
      expectedValue: 0.01,
      service: 'payments',
      issueKeys: 'PROJ-8',
    });
    expect(result).toMatchObject({
      verdict: 'failed',
      passed: false,
      actualValue: 0.032,
      reason: 'error ratio 0.032 > 0.01 (must be < 0.01)',
      service: 'payments',
      issueKeys: ['PROJ-8'],
    });
  });

  it('treats an absent series as no data and applies onNoData', async () => {
    const base = { check: 'error ratio', query: 'sy_missing_metric', operator: '<', expectedValue: 0.01 };
    const inconclusive = await validate(base);
    expect(inconclusive).toMatchObject({
      verdict: 'inconclusive',
      passed: false,
      actualValue: null,
      samples: [],
    });
    expect(inconclusive.reason).toBe(
      'error ratio: no data (the query returned no series) (onNoData: inconclusive)',
    );
    const failed = await validate({ ...base, onNoData: 'fail' });
    expect(failed.verdict).toBe('failed');
    expect(failed.reason).toBe(
      'error ratio: no data (the query returned no series), counted as failed (onNoData: fail)',
    );
    const passed = await validate({ ...base, onNoData: 'pass' });
    expect(passed).toMatchObject({ verdict: 'passed', passed: true });
    expect(passed.reason).toContain('counted as passed (onNoData: pass)');
  });

  it('reads "NaN" as no data and "+Inf" as a real value', async () => {
    const nan = await validate({ query: 'sy_nan_ratio', operator: '<', expectedValue: 0.01 });
    expect(nan).toMatchObject({ verdict: 'inconclusive', actualValue: null, check: 'sy_nan_ratio' });
    expect(nan.samples[0]).toMatchObject({ value: null, raw: 'NaN' });
    expect(nan).not.toHaveProperty('actualRaw');
    expect(nan.reason).toBe('sy_nan_ratio: no data (the value is NaN) (onNoData: inconclusive)');

    const inf = await validate({
      check: 'latency',
      query: 'sy_inf_latency',
      operator: '<',
      expectedValue: 1,
    });
    expect(inf.verdict).toBe('failed');
    expect(inf.reason).toBe('latency +Inf > 1 (must be < 1)');
    expect(inf.actualValue).toBe(Number.MAX_VALUE);
    expect(inf).toMatchObject({ actualRaw: '+Inf', samples: [{ value: Number.MAX_VALUE, raw: '+Inf' }] });
    const infEvent = host.emitted('MetricValidated').find((e) => e.id === inf.eventId)!;
    expect(infEvent.data).toMatchObject({
      actualValue: Number.MAX_VALUE,
      actualRaw: '+Inf',
      samples: [{ value: Number.MAX_VALUE, raw: '+Inf' }],
      reason: 'latency +Inf > 1 (must be < 1)',
    });
    const negative = await validate({
      check: 'latency',
      query: '-sy_inf_latency',
      operator: '<',
      expectedValue: 1,
    });
    expect(negative).toMatchObject({ verdict: 'passed', reason: 'latency -Inf < 1' });
    const emitted = host.emitted('MetricValidated').map((e) => (e.data as MetricValidatedData).reason);
    expect(emitted).toEqual(expect.arrayContaining(['latency +Inf > 1 (must be < 1)', 'latency -Inf < 1']));
    // The measurement log says what Prometheus said, not null (JSON's spelling of ±Infinity).
    const measured = host.logs.filter((l) => l.msg === 'prometheus measurement');
    expect(measured.filter((l) => l.check === 'latency').map((l) => l.value)).toEqual(['+Inf', '-Inf']);
    expect(measured.find((l) => l.check === 'sy_nan_ratio')?.value).toBeNull();
  });

  it('judges several series by the series rule: one is inconclusive, all needs every series, any needs one', async () => {
    const base = {
      check: 'p99 latency',
      query: 'sy_pod_latency_seconds',
      operator: '<',
      expectedValue: 0.25,
    };
    const one = await validate(base);
    expect(one.verdict).toBe('inconclusive');
    expect(one.reason).toBe(
      'p99 latency: the query returned 3 series but series is "one"; aggregate it (e.g. sum or max) or set series to "all" or "any"',
    );
    expect(one.samples).toHaveLength(3);

    const all = await validate({ ...base, series: 'all' });
    expect(all).toMatchObject({ verdict: 'failed', actualValue: 0.3 });
    expect(all.reason).toMatch(
      /^p99 latency 0\.3 > 0\.25 \(must be < 0\.25\) on \{instance="[^"]+", job="switchyard-test", pod="b"\}$/,
    );

    const any = await validate({ ...base, series: 'any' });
    expect(any).toMatchObject({
      verdict: 'passed',
      actualValue: 0.1,
      reason: 'p99 latency 0.1 < 0.25 on 2 of 3 series',
    });

    const allPass = await validate({ ...base, expectedValue: 0.5, series: 'all' });
    expect(allPass).toMatchObject({
      verdict: 'passed',
      actualValue: 0.3,
      reason: 'p99 latency 0.3 < 0.5 on all 3 series',
    });

    const noneBelow = await validate({ ...base, expectedValue: 0.05, series: 'any' });
    expect(noneBelow.verdict).toBe('failed');
    expect(noneBelow.reason).toContain('0.1 > 0.05 (must be < 0.05) (no series < 0.05; closest {');
  });

  it('handles scalar results, vector(1) and a NaN scalar', async () => {
    const scalar = await validate({
      check: 'total error ratio',
      query: 'scalar(sum(sy_error_ratio))',
      operator: '>=',
      expectedValue: 0.03,
    });
    expect(scalar).toMatchObject({ verdict: 'passed', reason: 'total error ratio 0.036 >= 0.03' });
    expect(scalar.actualValue).toBeCloseTo(0.036, 10);
    expect(scalar.samples[0]?.labels).toEqual({});
    const vector = await validate({ query: 'vector(1)', operator: '==', expectedValue: 1 });
    expect(vector).toMatchObject({ verdict: 'passed', reason: 'vector(1) 1 == 1' });
    const nanScalar = await validate({
      query: 'scalar(sy_missing_metric)',
      operator: '==',
      expectedValue: 0,
    });
    expect(nanScalar.verdict).toBe('inconclusive');
  });

  it('makes bad_data (400) and execution (422) permanent, quoting Prometheus, and emits nothing', async () => {
    const before = host.emitted('MetricValidated').length;
    const bad = await rejection(validate({ query: 'rate(', operator: '<', expectedValue: 1 }));
    expect(isSwitchyardError(bad)).toBe(true);
    expect(bad).toMatchObject({ code: 'SY_PROMETHEUS_BAD_QUERY', retryable: false });
    expect(bad.message).toContain('Prometheus rejected the query "rate("');
    expect(bad.message).toContain('parse error');
    expect(bad.message).toContain('(bad_data)');

    const execution = await rejection(
      validate({
        query:
          'label_replace(sy_pod_latency_seconds, "x", "$1", "pod", "(.*)") + on() group_left sy_pod_latency_seconds',
        operator: '<',
        expectedValue: 1,
      }),
    );
    expect(execution).toMatchObject({ code: 'SY_PROMETHEUS_BAD_QUERY', retryable: false });
    expect(execution.message).toContain('(execution)');

    const matrix = await rejection(
      validate({ query: 'sy_error_ratio[1m]', operator: '<', expectedValue: 1 }),
    );
    expect(matrix).toMatchObject({ code: 'SY_PROMETHEUS_UNSUPPORTED_RESULT', retryable: false });
    expect(matrix.message).toContain('range vector (matrix)');
    expect(host.emitted('MetricValidated')).toHaveLength(before);
  });

  it('takes count measurements interval apart and stops once failureLimit is exceeded', async () => {
    const failing = await validate({
      check: 'error ratio',
      query: 'sy_error_ratio{service="payments"}',
      operator: '<',
      expectedValue: 0.01,
      count: 3,
      interval: '1s',
      failureLimit: 1,
    });
    expect(failing.verdict).toBe('failed');
    expect(failing.samples).toHaveLength(2);
    expect(failing.reason).toBe(
      'error ratio 0.032 > 0.01 (must be < 0.01) in 2 of 2 measurements; failureLimit 1; stopped after 2 of 3 planned measurements',
    );
    const [first, second] = failing.samples.map((s) => Date.parse(s.time));
    expect(second! - first!).toBeGreaterThanOrEqual(900);
  });
});

describe.skipIf(skip)('long gates on a real Prometheus with a manual clock', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost({ plugins: [{ plugin, options: { url: prometheus.url } }] });
  });

  afterAll(async () => {
    await host?.close();
  });

  /** Waits (in real time) until the gate is sleeping: one timer more on the manual clock than before it began. */
  async function sleeping(baseline: number): Promise<void> {
    for (let i = 0; i < 500 && host.manualClock!.pending <= baseline; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(host.manualClock!.pending).toBe(baseline + 1);
  }

  it('waits on the clock between measurements, lets other gates finish meanwhile, and tolerates failureLimit', async () => {
    const baseline = host.manualClock!.pending;
    const gate = host.invoke('prometheus.validate', {
      check: 'error ratio',
      query: 'sy_changing',
      operator: '<',
      expectedValue: 0.01,
      count: 3,
      interval: '30s',
      initialDelay: '1m',
      failureLimit: 1,
    }) as Promise<ValidateResult>;
    let settled = false;
    void gate.finally(() => {
      settled = true;
    });
    await sleeping(baseline); // initialDelay

    // Another delivery's gate runs to completion while the long one waits.
    const quick = (await host.invoke('prometheus.validate', {
      check: 'quick',
      query: 'vector(1)',
      operator: '==',
      expectedValue: 1,
    })) as MetricValidatedData;
    expect(quick.verdict).toBe('passed');
    expect(settled).toBe(false);

    await host.advance(60_000); // measurement 1: 0.001 passes
    await sleeping(baseline);
    exporter.set('sy_changing 0.05\n');
    await prometheus.waitForSeries('sy_changing == 0.05');
    await host.advance(30_000); // measurement 2: 0.05 fails
    await sleeping(baseline);
    exporter.set('sy_changing 0.002\n');
    await prometheus.waitForSeries('sy_changing == 0.002');
    await host.advance(30_000); // measurement 3: 0.002 passes
    const result = await gate;
    expect(result.samples.map((s) => s.value)).toEqual([0.001, 0.05, 0.002]);
    expect(result).toMatchObject({ verdict: 'passed', actualValue: 0.002 });
    expect(result.reason).toBe(
      'error ratio 0.001 to 0.002 < 0.01 in 2 of 3 measurements; 1 failed measurement within failureLimit 1',
    );
  });

  it('stops at once when the delivery is aborted, emitting nothing', async () => {
    const controller = new AbortController();
    const baseline = host.manualClock!.pending;
    const gate = host.invoke(
      'prometheus.validate',
      {
        check: 'aborted gate',
        query: 'sy_changing',
        operator: '<',
        expectedValue: 1,
        count: 5,
        interval: '10m',
      },
      { signal: controller.signal },
    );
    await sleeping(baseline);
    controller.abort(new Error('delivery timed out'));
    await expect(gate).rejects.toThrow('delivery timed out');
    expect(host.manualClock!.pending).toBe(baseline);
    expect(
      host.emitted('MetricValidated').some((e) => (e.data as MetricValidatedData).check === 'aborted gate'),
    ).toBe(false);
  });
});
