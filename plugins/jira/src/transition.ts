import { isSwitchyardError, PermanentError } from '@switchyard/core';
import type { AdfDoc } from './adf.js';
import type { JiraClient, Status, Transition } from './client.js';
import { JiraErrorCodes } from './errors.js';

export interface TransitionRequest {
  issue: string;
  /** Target status name (case-insensitive) or status id. */
  to?: string;
  transitionId?: string;
  /** Rendered comment body (ADF for v3, wiki markup for v2). */
  comment?: AdfDoc | string;
  fields?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface TransitionResult {
  issue: string;
  /** `unchanged`: the issue was already in the target status, nothing was sent. */
  outcome: 'transitioned' | 'unchanged';
  from: string;
  to: string;
  transitionId?: string;
  transitionName?: string;
  commented: boolean;
}

const same = (a: string, b: string) => a.localeCompare(b, undefined, { sensitivity: 'accent' }) === 0;

function matchesStatus(status: Status, wanted: string): boolean {
  return same(status.name, wanted) || (status.id !== '' && status.id === wanted);
}

/**
 * Moves an issue to a status by picking the transition whose *target status* matches, because
 * transition names ("Start development") differ from status names and ids differ per workflow.
 * Already there → nothing is sent, so a redelivered event cannot double-transition or double-comment.
 */
export async function transitionIssue(client: JiraClient, req: TransitionRequest): Promise<TransitionResult> {
  const { issue, signal } = req;
  const current = await client.currentStatus(issue, signal);
  if (req.to !== undefined && matchesStatus(current, req.to)) {
    return { issue, outcome: 'unchanged', from: current.name, to: current.name, commented: false };
  }
  const available = await client.transitions(issue, signal);
  const chosen =
    req.transitionId !== undefined
      ? available.find((t) => t.id === req.transitionId)
      : available.find((t) => matchesStatus(t.to, req.to!));
  if (!chosen) throw unreachable(issue, current, available, req);

  const body: Record<string, unknown> = { transition: { id: chosen.id } };
  if (req.fields && Object.keys(req.fields).length > 0) body.fields = req.fields;
  if (req.comment !== undefined) body.update = { comment: [{ add: { body: req.comment } }] };
  try {
    await client.call({
      method: 'POST',
      path: `/issue/${encodeURIComponent(issue)}/transitions`,
      body,
      what: `transition ${issue} to "${chosen.to.name}" (via "${chosen.name}")`,
      issue,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    // Someone else may have moved the issue between our read and our write; if it landed where we
    // wanted, that is success, not an error.
    if (isSwitchyardError(error) && error.code === JiraErrorCodes.REJECTED) {
      const now = await client.currentStatus(issue, signal).catch(() => undefined);
      if (now && matchesStatus(now, chosen.to.name)) {
        return { issue, outcome: 'unchanged', from: now.name, to: now.name, commented: false };
      }
    }
    throw error;
  }
  return {
    issue,
    outcome: 'transitioned',
    from: current.name,
    to: chosen.to.name,
    transitionId: chosen.id,
    transitionName: chosen.name,
    commented: req.comment !== undefined,
  };
}

function unreachable(
  issue: string,
  current: Status,
  available: Transition[],
  req: TransitionRequest,
): PermanentError {
  const reachable = [...new Set(available.map((t) => t.to.name))];
  const options = available.map((t) => `"${t.to.name}" (transition "${t.name}", id ${t.id})`).join(', ');
  const wanted = req.transitionId !== undefined ? `transition id ${req.transitionId}` : `status "${req.to}"`;
  let hint = '';
  const byName = req.to !== undefined ? available.find((t) => same(t.name, req.to!)) : undefined;
  if (byName) {
    hint = `; "${byName.name}" is a transition name: use its target status to: "${byName.to.name}" or transitionId: "${byName.id}"`;
  }
  return new PermanentError(
    JiraErrorCodes.TRANSITION_UNAVAILABLE,
    `${issue} is in "${current.name}" and cannot reach ${wanted} from there; reachable: ${options || '(no transitions available to this account)'}${hint}`,
    {
      details: {
        plugin: 'jira',
        issue,
        currentStatus: current.name,
        reachableStatuses: reachable,
        transitions: available.map((t) => ({ id: t.id, name: t.name, to: t.to.name })),
      },
    },
  );
}
