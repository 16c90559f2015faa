import type { SwitchyardEvent } from '@switchyard/core';
import type { Locale } from './options.js';

/** A default message for an event: markdown for markdown/actionCard, plain for text/link. */
export interface RenderedMessage {
  title: string;
  markdown: string;
  plain: string;
  /** Where the event points (issue, deployment, log, alert source), when it has one. */
  url?: string;
}

const words = {
  'zh-CN': {
    issue: '需求状态变更',
    status: '状态',
    by: '操作人',
    labels: '标签',
    deploy: { succeeded: '部署成功', failed: '部署失败' },
    service: '服务',
    version: '版本',
    environment: '环境',
    namespace: '命名空间',
    cluster: '集群',
    commit: '提交',
    issues: '关联需求',
    duration: '耗时',
    metric: { passed: '指标校验通过', failed: '指标校验失败', inconclusive: '指标校验无结论' },
    query: '查询',
    actual: '实际值',
    expected: '期望',
    reason: '原因',
    noData: '无数据',
    pipeline: { succeeded: '流水线成功', failed: '流水线失败', cancelled: '流水线已取消' },
    failedStep: '失败步骤',
    log: '查看日志',
    alert: { firing: '告警触发', resolved: '告警恢复' },
    severity: '级别',
    startsAt: '开始时间',
    endsAt: '恢复时间',
    source: '告警来源',
    details: '查看详情',
    event: '事件',
    subject: '对象',
  },
  en: {
    issue: 'Issue transitioned',
    status: 'Status',
    by: 'By',
    labels: 'Labels',
    deploy: { succeeded: 'Deployment succeeded', failed: 'Deployment failed' },
    service: 'Service',
    version: 'Version',
    environment: 'Environment',
    namespace: 'Namespace',
    cluster: 'Cluster',
    commit: 'Commit',
    issues: 'Issues',
    duration: 'Duration',
    metric: {
      passed: 'Metric check passed',
      failed: 'Metric check failed',
      inconclusive: 'Metric check inconclusive',
    },
    query: 'Query',
    actual: 'Actual',
    expected: 'Expected',
    reason: 'Reason',
    noData: 'no data',
    pipeline: { succeeded: 'Pipeline succeeded', failed: 'Pipeline failed', cancelled: 'Pipeline cancelled' },
    failedStep: 'Failed step',
    log: 'View log',
    alert: { firing: 'Alert firing', resolved: 'Alert resolved' },
    severity: 'Severity',
    startsAt: 'Started',
    endsAt: 'Resolved',
    source: 'Source',
    details: 'Details',
    event: 'Event',
    subject: 'Subject',
  },
} as const;

type Words = (typeof words)[Locale];

/** The label of the single button of a default actionCard. */
export function detailsLabel(locale: Locale): string {
  return words[locale].details;
}

/** A line of a default message: a label and a value. */
type Field = [label: string, value: string | undefined];

interface Parts {
  /** Heading (also the message title). */
  heading: string;
  /** Short line under the heading (issue summary, alert summary). */
  lead?: string;
  fields: Field[];
  url?: string;
  urlLabel?: string;
}

/**
 * Renders a concise default message for an event. Known types get their own layout; fields may be
 * missing (events of other plugins are read defensively); anything else gets a generic summary.
 */
export function renderEvent(event: SwitchyardEvent, locale: Locale): RenderedMessage {
  const w = words[locale];
  const data = asRecord(event.data);
  const parts = layouts[event.type]?.(data, w, event) ?? generic(event, data, w);
  return toMessage(parts);
}

const layouts: Record<string, (d: Record<string, unknown>, w: Words, e: SwitchyardEvent) => Parts> = {
  IssueTransitioned(d, w) {
    const key = str(d.issueKey) ?? '';
    const by = asRecord(d.transitionedBy);
    const from = str(d.fromStatus);
    const to = str(d.toStatus);
    return {
      heading: `${w.issue} ${key}`.trim(),
      lead: str(d.summary),
      fields: [
        [w.status, to ? (from ? `${from} → **${to}**` : `**${to}**`) : undefined],
        [w.by, str(by.displayName) ?? str(by.email)],
        [w.labels, list(d.labels)],
      ],
      url: url(d.url),
    };
  },
  DeploymentCompleted(d, w) {
    const outcome = str(d.outcome) === 'failed' ? 'failed' : 'succeeded';
    const icon = outcome === 'failed' ? '❌' : '✅';
    return {
      heading: `${icon} ${w.deploy[outcome]}: ${str(d.service) ?? '?'} ${str(d.version) ?? ''}`.trim(),
      fields: [
        [w.environment, str(d.environment)],
        [w.version, str(d.version)],
        [w.namespace, str(d.namespace)],
        [w.cluster, str(d.cluster)],
        [w.commit, str(d.commit)?.slice(0, 12)],
        [w.issues, list(d.issueKeys)],
        [w.duration, duration(between(d.startedAt, d.finishedAt))],
      ],
      url: url(d.url),
    };
  },
  MetricValidated(d, w) {
    const verdict = str(d.verdict);
    const known = verdict === 'passed' || verdict === 'failed' || verdict === 'inconclusive';
    const v = known ? verdict : d.passed === true ? 'passed' : 'failed';
    const icon = v === 'passed' ? '✅' : v === 'failed' ? '❌' : '⚠️';
    // ±Inf arrives as ±Number.MAX_VALUE (JSON has no infinities); actualRaw has Prometheus' spelling.
    const actual =
      d.actualRaw === '+Inf' || d.actualRaw === '-Inf'
        ? d.actualRaw
        : typeof d.actualValue === 'number'
          ? formatNumber(d.actualValue)
          : w.noData;
    const expected =
      typeof d.expectedValue === 'number'
        ? `${str(d.operator) ?? ''} ${formatNumber(d.expectedValue)}`.trim()
        : undefined;
    const where = [str(d.service), str(d.environment)].filter(Boolean).join(' / ');
    return {
      heading: `${icon} ${w.metric[v]}: ${str(d.check) ?? '?'}`,
      lead: where || undefined,
      fields: [
        [w.actual, `**${actual}**`],
        [w.expected, expected],
        [w.reason, str(d.reason)],
        [w.query, str(d.query) ? `\`${str(d.query)}\`` : undefined],
        [w.issues, list(d.issueKeys)],
      ],
    };
  },
  PipelineCompleted(d, w) {
    const o = str(d.outcome);
    const outcome = o === 'failed' || o === 'cancelled' ? o : 'succeeded';
    const icon = outcome === 'succeeded' ? '✅' : outcome === 'failed' ? '❌' : '⏹️';
    return {
      heading: `${icon} ${w.pipeline[outcome]}: ${str(d.pipeline) ?? '?'}`,
      fields: [
        [w.failedStep, str(d.failedStep)],
        [w.issues, str(d.issueKey)],
        [w.duration, duration(typeof d.durationMs === 'number' ? d.durationMs : undefined)],
      ],
      url: url(d.logUrl),
      urlLabel: w.log,
    };
  },
  AlertFired(d, w) {
    const status = str(d.status) === 'resolved' ? 'resolved' : 'firing';
    const labels = asRecord(d.labels);
    const annotations = asRecord(d.annotations);
    const icon = status === 'firing' ? '🔥' : '✅';
    return {
      heading: `${icon} ${w.alert[status]}: ${str(labels.alertname) ?? '?'}`,
      lead: str(annotations.summary) ?? str(annotations.description),
      fields: [
        [w.severity, str(labels.severity)],
        [w.service, str(labels.service) ?? str(labels.job)],
        [w.environment, str(labels.environment) ?? str(labels.env) ?? str(labels.namespace)],
        [w.startsAt, str(d.startsAt)],
        [w.endsAt, status === 'resolved' ? str(d.endsAt) : undefined],
      ],
      url: url(d.generatorURL),
      urlLabel: w.source,
    };
  },
};

function generic(event: SwitchyardEvent, data: Record<string, unknown>, w: Words): Parts {
  const fields: Field[] = [[w.subject, event.subject]];
  for (const [k, v] of Object.entries(data).slice(0, 8)) {
    if (v === null || v === undefined) continue;
    const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
    fields.push([k, text.length > 120 ? `${text.slice(0, 117)}...` : text]);
  }
  return { heading: `${w.event}: ${event.type}`, fields, url: url(data.url) };
}

function toMessage(p: Parts): RenderedMessage {
  const fields = p.fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
  const label = p.urlLabel ?? p.heading;
  const md: string[] = [`#### ${p.heading}`];
  if (p.lead) md.push(p.lead);
  if (fields.length > 0) md.push(fields.map(([k, v]) => `- ${k}: ${v}`).join('\n'));
  if (p.url) md.push(`[${escapeLinkText(label)}](${p.url})`);
  const plain: string[] = [p.heading];
  if (p.lead) plain.push(p.lead);
  for (const [k, v] of fields) plain.push(`${k}: ${v.replace(/\*\*|`/g, '')}`);
  if (p.url) plain.push(p.url);
  return {
    title: p.heading,
    markdown: md.join('\n\n'),
    plain: plain.join('\n'),
    ...(p.url ? { url: p.url } : {}),
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function list(value: unknown): string | undefined {
  if (!Array.isArray(value)) return str(value);
  const items = value.map(str).filter((s): s is string => s !== undefined);
  return items.length > 0 ? items.join(', ') : undefined;
}

/** Only http(s) links are rendered: a message must not carry a javascript: or data: link. */
function url(value: unknown): string | undefined {
  const s = str(value);
  if (!s) return undefined;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

function between(start: unknown, end: unknown): number | undefined {
  const a = typeof start === 'string' ? Date.parse(start) : Number.NaN;
  const b = typeof end === 'string' ? Date.parse(end) : Number.NaN;
  return Number.isFinite(a) && Number.isFinite(b) && b >= a ? b - a : undefined;
}

function duration(ms: number | undefined): string | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return undefined;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ''}`;
  return `${Math.floor(m / 60)}h${m % 60 ? ` ${m % 60}m` : ''}`;
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

function escapeLinkText(text: string): string {
  return text.replace(/[[\]]/g, '');
}
