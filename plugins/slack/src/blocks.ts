import type { SwitchyardEvent } from '@switchyard/core';

// Default Block Kit layouts, one per event type the plugin knows, rendered from `type` + `data` alone
// (no import of the plugins that define PipelineCompleted or AlertFired). Every field is read
// defensively: a missing or odd field is left out, never thrown on.

export type Block = Record<string, unknown> & { type: string };

export interface Rendered {
  /** Notification / fallback text (also what screen readers read). */
  text: string;
  blocks: Block[];
}

/** Jira browse URL of an issue key, when known (from an IssueTransitioned of the chain). */
export type IssueLinker = (issueKey: string) => string | undefined;

const MAX_SECTION = 2_900;

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function clip(text: string, max = MAX_SECTION): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function link(url: string | undefined, label: string): string {
  if (!url || !/^https?:\/\//.test(url)) return escapeMrkdwn(label);
  return `<${url.replace(/[<>|]/g, encodeURIComponent)}|${escapeMrkdwn(label)}>`;
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text) } };
}

function fields(pairs: Array<[string, string | undefined]>): Block | undefined {
  const present = pairs.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '').slice(0, 10);
  if (present.length === 0) return undefined;
  return {
    type: 'section',
    fields: present.map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${v}`, 2_000) })),
  };
}

function context(parts: string[]): Block | undefined {
  const present = parts.filter((p) => p.length > 0).slice(0, 10);
  if (present.length === 0) return undefined;
  return { type: 'context', elements: present.map((text) => ({ type: 'mrkdwn', text: clip(text, 2_000) })) };
}

function compact(blocks: Array<Block | undefined>): Block[] {
  return blocks.filter((b): b is Block => b !== undefined);
}

function issueLinks(keys: unknown, linker: IssueLinker): string | undefined {
  if (!Array.isArray(keys)) return undefined;
  const list = keys.filter((k): k is string => typeof k === 'string' && k.length > 0);
  if (list.length === 0) return undefined;
  return list.map((k) => link(linker(k), k)).join(', ');
}

function formatDuration(ms: unknown): string | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return undefined;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

function chainContext(event: SwitchyardEvent): string {
  return `${escapeMrkdwn(event.type)} · ${event.time} · chain \`${event.correlationid ?? event.id}\``;
}

/** Whether the event reports a failure (its thread reply is broadcast when broadcastFailures is on). */
export function isFailure(event: SwitchyardEvent): boolean {
  const d = (event.data ?? {}) as Record<string, unknown>;
  if (event.type === 'AlertFired') return str(d.status) !== 'resolved';
  if (event.type === 'ApprovalGiven') return d.approved === false;
  const outcome = str(d.outcome)?.toLowerCase();
  if (outcome && ['failed', 'failure', 'error', 'errored', 'timed_out', 'timeout'].includes(outcome))
    return true;
  if (str(d.verdict) === 'failed') return true;
  return false;
}

/** The default message for an event: a layout per known type, a generic one for the rest. */
export function renderEvent(event: SwitchyardEvent, linker: IssueLinker = () => undefined): Rendered {
  const d = (event.data && typeof event.data === 'object' ? event.data : {}) as Record<string, unknown>;
  switch (event.type) {
    case 'IssueTransitioned':
      return issueTransitioned(event, d, linker);
    case 'DeploymentCompleted':
      return deploymentCompleted(event, d, linker);
    case 'MetricValidated':
      return metricValidated(event, d, linker);
    case 'PipelineCompleted':
      return pipelineCompleted(event, d, linker);
    case 'AlertFired':
      return alertFired(event, d);
    case 'ApprovalGiven':
      return approvalGiven(event, d);
    default:
      return generic(event, d);
  }
}

function issueTransitioned(
  event: SwitchyardEvent,
  d: Record<string, unknown>,
  linker: IssueLinker,
): Rendered {
  const key = str(d.issueKey) ?? event.subject ?? 'issue';
  const url = str(d.url) ?? linker(key);
  const to = str(d.toStatus) ?? '?';
  const by = d.transitionedBy as Record<string, unknown> | undefined;
  const who = str(by?.displayName) ?? str(by?.email);
  const summary = str(d.summary);
  const labels = Array.isArray(d.labels) ? d.labels.filter((l) => typeof l === 'string').join(', ') : '';
  return {
    text: `${key} moved to ${to}${summary ? `: ${summary}` : ''}`,
    blocks: compact([
      section(
        `:arrow_right: *${link(url, key)}* moved to *${escapeMrkdwn(to)}*${summary ? `\n${escapeMrkdwn(summary)}` : ''}`,
      ),
      fields([
        ['From', str(d.fromStatus) && escapeMrkdwn(str(d.fromStatus)!)],
        ['To', escapeMrkdwn(to)],
        ['Type', str(d.issueType) && escapeMrkdwn(str(d.issueType)!)],
        ['By', who && escapeMrkdwn(who)],
      ]),
      context([labels ? `Labels: ${escapeMrkdwn(labels)}` : '', chainContext(event)]),
    ]),
  };
}

function deploymentCompleted(
  event: SwitchyardEvent,
  d: Record<string, unknown>,
  linker: IssueLinker,
): Rendered {
  const ok = str(d.outcome) === 'succeeded';
  const service = str(d.service) ?? 'service';
  const env = str(d.environment) ?? '?';
  const version = str(d.version);
  const headline = ok
    ? `Deployed ${service}${version ? ` ${version}` : ''} to ${env}`
    : `Deployment of ${service}${version ? ` ${version}` : ''} to ${env} failed`;
  return {
    text: headline,
    blocks: compact([
      section(`${ok ? ':white_check_mark:' : ':x:'} *${link(str(d.url), headline)}*`),
      fields([
        ['Service', escapeMrkdwn(service)],
        ['Environment', escapeMrkdwn(env)],
        ['Version', version && `\`${escapeMrkdwn(version)}\``],
        ['Namespace', str(d.namespace) && escapeMrkdwn(str(d.namespace)!)],
        ['Cluster', str(d.cluster) && escapeMrkdwn(str(d.cluster)!)],
        ['Commit', str(d.commit) && `\`${escapeMrkdwn(str(d.commit)!.slice(0, 12))}\``],
        ['Issues', issueLinks(d.issueKeys, linker)],
      ]),
      context([chainContext(event)]),
    ]),
  };
}

/** MetricValidated carries ±Inf as ±Number.MAX_VALUE (JSON has no infinities) and Prometheus' spelling in actualRaw. */
function infinity(raw: unknown): string | undefined {
  return raw === '+Inf' || raw === '-Inf' ? raw : undefined;
}

function formatValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : v === null ? 'no data' : (str(v) ?? '?');
}

function metricValidated(event: SwitchyardEvent, d: Record<string, unknown>, linker: IssueLinker): Rendered {
  const verdict =
    str(d.verdict) ?? (d.passed === true ? 'passed' : d.passed === false ? 'failed' : 'inconclusive');
  const icon = verdict === 'passed' ? ':white_check_mark:' : verdict === 'failed' ? ':x:' : ':grey_question:';
  const check = str(d.check) ?? 'metric check';
  const reason = str(d.reason);
  const where = [str(d.service), str(d.environment)].filter(Boolean).join(' in ');
  const samples = Array.isArray(d.samples) ? d.samples.length : undefined;
  return {
    text: `${check}: ${verdict}${reason ? ` (${reason})` : ''}`,
    blocks: compact([
      section(
        `${icon} *${escapeMrkdwn(check)}*: *${escapeMrkdwn(verdict)}*${where ? ` (${escapeMrkdwn(where)})` : ''}`,
      ),
      reason ? section(escapeMrkdwn(reason)) : undefined,
      fields([
        ['Expected', `${escapeMrkdwn(str(d.operator) ?? '?')} ${formatValue(d.expectedValue)}`],
        ['Actual', infinity(d.actualRaw) ?? formatValue(d.actualValue)],
        ['Query', str(d.query) && `\`${escapeMrkdwn(clip(str(d.query)!, 300))}\``],
        ['Samples', samples === undefined ? undefined : String(samples)],
        ['Issues', issueLinks(d.issueKeys, linker)],
      ]),
      context([chainContext(event)]),
    ]),
  };
}

function pipelineCompleted(
  event: SwitchyardEvent,
  d: Record<string, unknown>,
  linker: IssueLinker,
): Rendered {
  const name = str(d.pipeline) ?? 'pipeline';
  const outcome = str(d.outcome) ?? 'finished';
  const failed = isFailure(event);
  const issue = str(d.issueKey);
  const headline = `Pipeline ${name} ${outcome}${issue ? ` for ${issue}` : ''}`;
  return {
    text: headline,
    blocks: compact([
      section(
        `${failed ? ':x:' : ':white_check_mark:'} Pipeline *${escapeMrkdwn(name)}* ${escapeMrkdwn(outcome)}${issue ? ` for *${link(linker(issue), issue)}*` : ''}`,
      ),
      fields([
        ['Failed step', str(d.failedStep) && escapeMrkdwn(str(d.failedStep)!)],
        ['Duration', formatDuration(d.durationMs)],
      ]),
      context([chainContext(event)]),
    ]),
  };
}

function alertFired(event: SwitchyardEvent, d: Record<string, unknown>): Rendered {
  const labels = (d.labels && typeof d.labels === 'object' ? d.labels : {}) as Record<string, unknown>;
  const annotations = (d.annotations && typeof d.annotations === 'object' ? d.annotations : {}) as Record<
    string,
    unknown
  >;
  const status = str(d.status) ?? 'firing';
  const name = str(labels.alertname) ?? str(d.alertname) ?? 'alert';
  const summary = str(annotations.summary) ?? str(annotations.description);
  const resolved = status === 'resolved';
  return {
    text: `${resolved ? 'Resolved' : 'Firing'}: ${name}${summary ? ` (${summary})` : ''}`,
    blocks: compact([
      section(
        `${resolved ? ':large_green_circle:' : ':rotating_light:'} *${escapeMrkdwn(name)}* ${escapeMrkdwn(status)}`,
      ),
      summary ? section(escapeMrkdwn(summary)) : undefined,
      fields([
        ['Severity', str(labels.severity) && escapeMrkdwn(str(labels.severity)!)],
        [
          'Service',
          (str(labels.service) ?? str(labels.job)) && escapeMrkdwn((str(labels.service) ?? str(labels.job))!),
        ],
        ['Instance', str(labels.instance) && escapeMrkdwn(str(labels.instance)!)],
        ['Since', str(d.startsAt)],
      ]),
      context([str(d.generatorURL) ? link(str(d.generatorURL), 'Source') : '', chainContext(event)]),
    ]),
  };
}

function approvalGiven(event: SwitchyardEvent, d: Record<string, unknown>): Rendered {
  const approved = d.approved === true;
  const by = d.by as Record<string, unknown> | undefined;
  const who = str(by?.id) ? `<@${str(by?.id)}>` : (str(by?.name) ?? 'someone');
  const question = str(d.question) ?? '';
  return {
    text: `${approved ? 'Approved' : 'Rejected'} by ${str(by?.name) ?? str(by?.id) ?? 'someone'}: ${question}`,
    blocks: compact([
      section(
        `${approved ? ':white_check_mark: *Approved*' : ':no_entry: *Rejected*'} by ${who}\n${escapeMrkdwn(question)}`,
      ),
      context([chainContext(event)]),
    ]),
  };
}

function generic(event: SwitchyardEvent, d: Record<string, unknown>): Rendered {
  const pairs: Array<[string, string | undefined]> = Object.entries(d)
    .filter(([, v]) => str(v) !== undefined)
    .slice(0, 10)
    .map(([k, v]) => [escapeMrkdwn(k), escapeMrkdwn(clip(str(v)!, 300))]);
  const subject = event.subject ? ` ${event.subject}` : '';
  return {
    text: `${event.type}${subject}`,
    blocks: compact([
      section(`*${escapeMrkdwn(event.type)}*${escapeMrkdwn(subject)}`),
      fields(pairs),
      context([chainContext(event)]),
    ]),
  };
}

/** Browse URLs of issue keys from the URL an IssueTransitioned carried (…/browse/PROJ-1). */
export function linkerFrom(issueUrl: string | undefined): IssueLinker {
  if (!issueUrl) return () => undefined;
  const match = /^(https?:\/\/.+\/browse\/)[^/?#]+/.exec(issueUrl);
  if (!match) return () => undefined;
  return (key) => `${match[1]}${encodeURIComponent(key)}`;
}
