import { isSwitchyardError } from '@switchyard/core';
import { PipelineErrorCodes as Codes, stepError } from '../errors.js';
import type { StepContext, StepOutcome } from './context.js';
import { JiraUpdateParams } from './types.js';
import { parseParams } from './util.js';

const ATTEMPTS = 3;
const MAX_WAIT_MS = 30_000;

/**
 * Invokes a plugin action caused by the run's PipelineStarted event. Errors the action marks
 * retryable are retried (3 attempts, honouring retryAfterMs); the idempotency key keeps a retried
 * or resumed step from repeating a side effect that already happened.
 */
export async function invokeAction(
  ctx: StepContext,
  name: string,
  params: unknown,
  suffix = '',
): Promise<unknown> {
  const idempotencyKey = `pipeline:${ctx.run.id}:${ctx.step.number}${suffix}`;
  for (let attempt = 1; ; attempt++) {
    try {
      ctx.log.note(`${name} (attempt ${attempt})`);
      const result = await ctx.actions.invoke(name, params, {
        cause: ctx.started,
        idempotencyKey,
        signal: ctx.signal,
        attempt,
      });
      ctx.log.note(`${name} succeeded: ${preview(result)}`);
      return result;
    } catch (error) {
      const retry = isSwitchyardError(error) && error.retryable && attempt < ATTEMPTS && !ctx.signal.aborted;
      const message = error instanceof Error ? error.message : String(error);
      ctx.log.note(`${name} failed: ${message}`);
      if (!retry) {
        throw stepError(
          Codes.ACTION_FAILED,
          `${ctx.step.type} step "${ctx.step.name}": ${name} failed: ${message}`,
          {
            action: name,
            ...(isSwitchyardError(error) ? { cause: error.code } : {}),
          },
        );
      }
      const wait = Math.min(MAX_WAIT_MS, error.retryAfterMs ?? 1_000 * 2 ** (attempt - 1));
      await ctx.clock.sleep(wait, ctx.signal).catch(() => {});
    }
  }
}

/** `<plugin>.<action>`: the step's other fields (rendered) are the action's params. */
export async function action(ctx: StepContext): Promise<StepOutcome> {
  const result = await invokeAction(ctx, ctx.step.action!, ctx.params);
  return { result: trim(result) };
}

/** `jira-update`: `jira.transition` to `status` (with `comment`), or `jira.comment` alone. */
export async function jiraUpdate(ctx: StepContext): Promise<StepOutcome> {
  const params = { ...ctx.params };
  if (params.issue === undefined && ctx.run.issueKey) params.issue = ctx.run.issueKey;
  const p = parseParams(JiraUpdateParams, { ...ctx, params });
  if (p.status) {
    const result = await invokeAction(ctx, 'jira.transition', {
      issue: p.issue,
      to: p.status,
      ...(p.comment ? { comment: p.comment } : {}),
    });
    return { result: trim(result) };
  }
  const result = await invokeAction(ctx, 'jira.comment', { issue: p.issue, body: p.comment });
  return { result: trim(result) };
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? 'nothing';
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Results are kept in the run record; big ones are cut to a preview. */
function trim(value: unknown): unknown {
  const text = JSON.stringify(value);
  if (text === undefined) return undefined;
  return text.length > 2_000 ? { preview: `${text.slice(0, 2_000)}…` } : value;
}
