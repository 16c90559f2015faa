import type {
  DeploymentCompletedData,
  IssueTransitionedData,
  MetricValidatedData,
  SwitchyardEvent,
} from '@switchyard/core';
import type { CommentDoc, Inline, Paragraph } from './adf.js';

// The comment written when `jira.comment` has no `body`: it explains the event that caused the
// action, so a person reading the issue sees what happened and why without opening Switchyard.
// Built as a document (not text) so values such as PromQL queries need no escaping.

const t = (text: string, extra: Partial<Extract<Inline, { kind: 'text' }>> = {}): Inline => ({
  kind: 'text',
  text,
  ...extra,
});
const br: Inline = { kind: 'break' };
// An empty code span would be an empty ADF text node, which Jira rejects.
const code = (text: string): Inline => (text === '' ? t('(empty)') : t(text, { code: true }));
const bold = (text: string): Inline => t(text, { bold: true });

/** Lines joined by line breaks in one paragraph. */
function lines(...rows: Array<Inline[] | undefined>): Paragraph {
  const out: Paragraph = [];
  for (const row of rows) {
    if (!row || row.length === 0) continue;
    if (out.length > 0) out.push(br);
    out.push(...row);
  }
  return out;
}

function footer(event: SwitchyardEvent): Paragraph {
  return [t('Switchyard event '), code(event.type), t(' '), code(event.id), t(` from ${event.source}`)];
}

function formatNumber(value: number | null): string {
  if (value === null) return 'no data';
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

function metricValidated(d: MetricValidatedData): Paragraph[] {
  const headline =
    d.verdict === 'passed'
      ? `Metric check "${d.check}" passed`
      : d.verdict === 'failed'
        ? `Metric check "${d.check}" failed`
        : `Metric check "${d.check}" was inconclusive`;
  const scope = [d.service && `service ${d.service}`, d.environment && `environment ${d.environment}`]
    .filter(Boolean)
    .join(', ');
  return [
    [bold(headline), ...(scope ? [t(` (${scope})`)] : [])],
    lines(
      [t('Query: '), code(d.query)],
      [
        t('Condition: actual '),
        // ±Inf arrives as ±Number.MAX_VALUE (JSON has no infinities); actualRaw has Prometheus' spelling.
        code(d.actualRaw === '+Inf' || d.actualRaw === '-Inf' ? d.actualRaw : formatNumber(d.actualValue)),
        t(' '),
        code(d.operator),
        t(' expected '),
        code(formatNumber(d.expectedValue)),
      ],
      [
        t('Verdict: '),
        bold(d.verdict),
        t(` (${d.samples.length} sample${d.samples.length === 1 ? '' : 's'})`),
      ],
      [t(`Reason: ${d.reason}`)],
    ),
  ];
}

function deploymentCompleted(d: DeploymentCompletedData): Paragraph[] {
  const verb = d.outcome === 'succeeded' ? 'succeeded' : 'failed';
  return [
    [bold(`Deployment of ${d.service} ${d.version} to ${d.environment} ${verb}`)],
    lines(
      [t('Service: '), code(d.service)],
      [t('Environment: '), code(d.environment)],
      [t('Version: '), code(d.version)],
      [t('Outcome: '), bold(d.outcome)],
      d.namespace ? [t('Namespace: '), code(d.namespace)] : undefined,
      d.cluster ? [t('Cluster: '), code(d.cluster)] : undefined,
      d.commit ? [t('Commit: '), code(d.commit)] : undefined,
      d.finishedAt ? [t(`Finished: ${d.finishedAt}`)] : undefined,
      d.url ? [t('Details: '), t(d.url, { href: d.url })] : undefined,
    ),
  ];
}

function issueTransitioned(d: IssueTransitionedData): Paragraph[] {
  const who = d.transitionedBy.displayName ?? d.transitionedBy.email ?? d.transitionedBy.accountId;
  return [
    [
      t(`${d.issueKey} moved from `),
      bold(d.fromStatus || '(none)'),
      t(' to '),
      bold(d.toStatus),
      ...(who ? [t(` by ${who}`)] : []),
      t('.'),
    ],
  ];
}

function generic(event: SwitchyardEvent): Paragraph[] {
  const rows: Inline[][] = [];
  const data = event.data;
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    for (const [key, value] of Object.entries(data).slice(0, 12)) {
      if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
        rows.push([t(`${key}: `), code(String(value))]);
      }
    }
  }
  return [
    [bold(`${event.type}${event.subject ? ` for ${event.subject}` : ''}`)],
    ...(rows.length > 0 ? [lines(...rows)] : []),
  ];
}

/** A comment explaining `event`: what was checked or deployed, the values, the verdict and why. */
export function defaultComment(event: SwitchyardEvent): CommentDoc {
  let body: Paragraph[];
  switch (event.type) {
    case 'MetricValidated':
      body = metricValidated(event.data as MetricValidatedData);
      break;
    case 'DeploymentCompleted':
      body = deploymentCompleted(event.data as DeploymentCompletedData);
      break;
    case 'IssueTransitioned':
      body = issueTransitioned(event.data as IssueTransitionedData);
      break;
    default:
      body = generic(event);
  }
  return [...body.filter((p) => p.length > 0), footer(event)];
}
