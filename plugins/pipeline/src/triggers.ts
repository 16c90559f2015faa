import type { Logger, SwitchyardEvent } from '@switchyard/core';
import type { PipelineDefinition, Scope, TriggerDefinition } from './load.js';
import type { IssueScope } from './store.js';

// Which pipelines an event starts, with which issue. `jira-issue` triggers match IssueTransitioned
// (status = toStatus, project = projectKey); `event` triggers match any type with an optional
// condition; PipelineRunRequested starts the pipeline it names (a manual run), whatever its triggers.

export interface TriggerMatch {
  pipeline: PipelineDefinition;
  kind: 'jira-issue' | 'event' | 'manual';
  issueKey?: string;
  requestedBy?: string;
}

/** Event types the trigger subscription must receive. */
export function triggerTypes(pipelines: readonly PipelineDefinition[]): string[] {
  const types = new Set<string>(['PipelineRunRequested']);
  for (const p of pipelines)
    for (const t of p.triggers) {
      if (t.type === 'jira-issue') types.add('IssueTransitioned');
      if (t.type === 'event') types.add(t.on);
    }
  return [...types].sort();
}

export function matchEvent(
  pipelines: ReadonlyMap<string, PipelineDefinition>,
  event: SwitchyardEvent,
  logger: Logger,
): TriggerMatch[] {
  const data = (event.data ?? {}) as Record<string, unknown>;
  if (event.type === 'PipelineRunRequested') {
    const pipeline = pipelines.get(String(data.pipeline));
    if (!pipeline) return [];
    return [
      {
        pipeline,
        kind: 'manual',
        ...(typeof data.issueKey === 'string' ? { issueKey: data.issueKey } : {}),
        ...(typeof data.requestedBy === 'string' ? { requestedBy: data.requestedBy } : {}),
      },
    ];
  }
  const out: TriggerMatch[] = [];
  for (const pipeline of pipelines.values()) {
    for (const trigger of pipeline.triggers) {
      const match = matchOne(pipeline, trigger, event, data, logger);
      if (match) {
        out.push(match);
        break;
      }
    }
  }
  return out;
}

function matchOne(
  pipeline: PipelineDefinition,
  trigger: TriggerDefinition,
  event: SwitchyardEvent,
  data: Record<string, unknown>,
  logger: Logger,
): TriggerMatch | undefined {
  if (trigger.type === 'manual') return undefined;
  const scope = triggerScope(event);
  const passes = (condition: { source: string; evaluate(scope: Scope): boolean } | undefined) => {
    if (!condition) return true;
    try {
      return condition.evaluate(scope);
    } catch (error) {
      logger.warn(
        { pipeline: pipeline.name, eventId: event.id, err: error },
        `trigger condition "${condition.source}" failed on ${event.type}; not starting ${pipeline.name}`,
      );
      return false;
    }
  };
  if (trigger.type === 'jira-issue') {
    if (event.type !== 'IssueTransitioned') return undefined;
    if (trigger.statuses && !trigger.statuses.includes(String(data.toStatus))) return undefined;
    if (trigger.projects && !trigger.projects.includes(String(data.projectKey))) return undefined;
    if (trigger.issueTypes && !trigger.issueTypes.includes(String(data.issueType))) return undefined;
    if (!passes(trigger.condition)) return undefined;
    return { pipeline, kind: 'jira-issue', issueKey: String(data.issueKey) };
  }
  if (event.type !== trigger.on || !passes(trigger.condition)) return undefined;
  let issueKey = issueKeysOf(event)[0];
  if (trigger.issue) {
    try {
      const rendered = trigger.issue(scope);
      issueKey = Array.isArray(rendered) ? String(rendered[0] ?? '') : String(rendered ?? '');
    } catch (error) {
      logger.warn(
        { pipeline: pipeline.name, eventId: event.id, err: error },
        'trigger "issue" template failed',
      );
      return undefined;
    }
  }
  return { pipeline, kind: 'event', ...(issueKey ? { issueKey } : {}) };
}

/** `.event`, `.data` and, for Jira events, `.issue`. */
export function triggerScope(event: SwitchyardEvent): Scope {
  const issue = issueFromEvent(event);
  return { event: { ...event }, data: event.data, ...(issue ? { issue } : {}) };
}

/** `.issue` from an IssueTransitioned event. */
export function issueFromEvent(event: SwitchyardEvent): IssueScope | undefined {
  if (event.type !== 'IssueTransitioned') return undefined;
  const d = event.data as Record<string, any>;
  return {
    key: d.issueKey,
    id: d.issueId,
    project: d.projectKey,
    summary: d.summary,
    status: d.toStatus,
    type: d.issueType,
    url: d.url,
    labels: d.labels,
    fields: d.fields ?? {},
  };
}

/** Issue keys an event carries: issueKey, or issueKeys (DeploymentCompleted, MetricValidated…). */
export function issueKeysOf(event: SwitchyardEvent): string[] {
  const d = (event.data ?? {}) as Record<string, unknown>;
  if (typeof d.issueKey === 'string' && d.issueKey) return [d.issueKey];
  if (Array.isArray(d.issueKeys))
    return d.issueKeys.filter((k): k is string => typeof k === 'string' && k !== '');
  return [];
}

/** A short label for PipelineStarted.trigger. */
export function triggerLabel(kind: TriggerMatch['kind'], event: SwitchyardEvent): string {
  return kind === 'event' ? `event:${event.type}` : kind;
}
