import type { ComparisonOperator } from '@switchyard/core';
import { compare, type GateParams, type GateResult, type Measurement } from './gate.js';
import type { QuerySample } from './query.js';

/** A number as a person reads it: "0.032", "1200", "NaN", "+Inf", "-Inf". */
export function formatValue(value: number | null): string {
  if (value === null || Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}

/** `{pod="b", service="x"}` without `__name__`; empty string for no labels. */
export function formatLabels(labels: Record<string, string>, max = 120): string {
  const pairs = Object.entries(labels)
    .filter(([name]) => name !== '__name__')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}="${value}"`);
  if (pairs.length === 0) return '';
  const text = `{${pairs.join(', ')}}`;
  return text.length > max ? `${text.slice(0, max - 2)}…}` : text;
}

function relation(actual: number, expected: number): string {
  return actual > expected ? '>' : actual < expected ? '<' : '==';
}

function distinctValues(values: number[], max = 3): string {
  const unique = [...new Set(values.map(formatValue))];
  return unique.length > max ? `${unique.slice(0, max).join(', ')}, …` : unique.join(', ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function noDataDetail(measurements: Measurement[]): string {
  const m = measurements[0];
  if (!m || m.samples.length === 0) return 'the query returned no series';
  const nan = m.samples.filter((s) => Number.isNaN(s.value)).length;
  return m.samples.length === 1 ? 'the value is NaN' : `${nan} of ${m.samples.length} series are NaN`;
}

/**
 * One line a person understands, e.g. "error ratio 0.032 > 0.01 (must be < 0.01) in 2 of 5 measurements".
 * It names the check, the values that decided, the expectation and how many measurements agreed.
 */
export function explain(check: string, params: GateParams, result: GateResult): string {
  const { operator: op, expectedValue } = params;
  const expected = formatValue(expectedValue);
  const taken = result.measurements.length;
  const multi = result.planned > 1;
  const inN = (n: number) => (multi ? ` in ${n} of ${plural(taken, 'measurement')}` : '');
  const noData = result.measurements.filter((m) => m.outcome === 'nodata');
  const ambiguous = result.measurements.filter((m) => m.outcome === 'ambiguous');
  const realFailures = result.measurements.filter((m) => m.outcome === 'failed');
  const stoppedEarly = taken < result.planned;

  if (result.verdict === 'failed') {
    const parts: string[] = [];
    if (realFailures.length > 0)
      parts.push(
        failurePhrase(check, op, expectedValue, realFailures, params.series) + inN(realFailures.length),
      );
    if (params.onNoData === 'fail' && noData.length > 0) {
      const phrase = `no data (${noDataDetail(noData)})${inN(noData.length)}, counted as failed (onNoData: fail)`;
      parts.push(parts.length === 0 ? `${check}: ${phrase}` : phrase);
    }
    let line = parts.join('; ');
    if (params.failureLimit > 0) line += `; failureLimit ${params.failureLimit}`;
    if (stoppedEarly) line += `; stopped after ${taken} of ${result.planned} planned measurements`;
    return line;
  }

  if (result.verdict === 'inconclusive') {
    const parts: string[] = [];
    if (ambiguous.length > 0) {
      const n = ambiguous[0]!.samples.length;
      parts.push(
        `${check}: the query returned ${n} series but series is "one"${inN(ambiguous.length)}; aggregate it (e.g. sum or max) or set series to "all" or "any"`,
      );
    }
    if (noData.length > 0) {
      const phrase = `no data (${noDataDetail(noData)})${inN(noData.length)} (onNoData: inconclusive)`;
      parts.push(parts.length === 0 ? `${check}: ${phrase}` : phrase);
    }
    if (realFailures.length > 0)
      parts.push(
        `${plural(realFailures.length, 'failed measurement')} within failureLimit ${params.failureLimit}`,
      );
    return parts.join('; ');
  }

  // passed
  const judged = result.measurements.filter((m) => m.outcome === 'passed');
  let line: string;
  if (judged.length === 0) {
    line = `${check}: no data (${noDataDetail(noData)})${inN(noData.length)}, counted as passed (onNoData: pass)`;
  } else {
    const values = judged.map((m) => m.value!).filter((v) => v !== null);
    const low = Math.min(...values);
    const high = Math.max(...values);
    const shown = low === high ? formatValue(low) : `${formatValue(low)} to ${formatValue(high)}`;
    const last = judged.at(-1)!;
    const seriesCount = last.samples.length;
    const seriesPart =
      seriesCount > 1
        ? params.series === 'any'
          ? ` on ${last.samples.filter((s) => compare(s.value, op, expectedValue)).length} of ${seriesCount} series`
          : ` on all ${seriesCount} series`
        : '';
    line = `${check} ${shown} ${op} ${expected}${seriesPart}`;
    if (multi)
      line += judged.length === taken ? ` in all ${plural(taken, 'measurement')}` : inN(judged.length);
    if (result.failed > 0)
      line += `; ${plural(result.failed, 'failed measurement')} within failureLimit ${params.failureLimit}`;
    if (noData.length > 0 && params.onNoData === 'pass')
      line += `; no data in ${noData.length}, counted as passed (onNoData: pass)`;
  }
  return line;
}

function failurePhrase(
  check: string,
  op: ComparisonOperator,
  expectedValue: number,
  failed: Measurement[],
  series: GateParams['series'],
): string {
  const expected = formatValue(expectedValue);
  const samples: QuerySample[] = failed.flatMap((m) => (series === 'any' ? bestOf(m) : m.failing));
  const values = samples.map((s) => s.value);
  const relations = new Set(values.map((v) => relation(v, expectedValue)));
  const rel = relations.size === 1 ? [...relations][0]! : '!=';
  const multiSeries = failed.some((m) => m.samples.length > 1);
  let where = '';
  if (multiSeries) {
    const labelled = [...new Set(samples.map((s) => formatLabels(s.labels)).filter(Boolean))];
    if (series === 'any') where = ` (no series ${op} ${expected}; closest ${labelled[0] ?? '{}'})`;
    else if (labelled.length > 0)
      where = ` on ${labelled.slice(0, 2).join(', ')}${labelled.length > 2 ? ` and ${labelled.length - 2} more` : ''}`;
  }
  return `${check} ${distinctValues(values)} ${rel} ${expected} (must be ${op} ${expected})${where}`;
}

/** For "any": the sample closest to passing stands for the measurement. */
function bestOf(m: Measurement): QuerySample[] {
  const s = m.samples.find((x) => x.value === m.value);
  return s ? [s] : [];
}
