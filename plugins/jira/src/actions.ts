import {
  type ActionContext,
  type KeyValueStore,
  PermanentError,
  RetryableError,
  toErrorInfo,
} from '@switchyard/core';
import { z } from 'zod';
import { type CommentDoc, parseCommentText, toAdf, toWiki } from './adf.js';
import type { JiraClient } from './client.js';
import { defaultComment } from './comment-text.js';
import { JiraErrorCodes } from './errors.js';
import { transitionIssue } from './transition.js';

// The three actions and their `with:` params. `issue` takes a key or a list of keys (a template such
// as "{{ .data.issueKeys }}" renders to a list); each issue is handled on its own and reported.

const issueRef = z
  .string()
  .trim()
  .regex(/^([A-Za-z][A-Za-z0-9_]*-\d+|\d+)$/, {
    error: 'must be an issue key such as PROJ-123 (or a numeric id)',
  });

const issues = z
  .union([issueRef, z.array(issueRef)], { error: 'must be an issue key such as PROJ-123, or a list of keys' })
  .transform((v) => [...new Set((Array.isArray(v) ? v : [v]).map((k) => k.toUpperCase()))]);

const fields = z.record(z.string(), z.unknown());

export const transitionParams = z
  .object({
    issue: issues,
    to: z.string().trim().min(1, { error: 'must name the target status, e.g. "In Development"' }).optional(),
    transitionId: z
      .union([z.string().trim().regex(/^\d+$/), z.number().int().nonnegative()], {
        error: 'must be a numeric transition id',
      })
      .transform(String)
      .optional(),
    comment: z.string().trim().min(1, { error: 'is empty; omit it or give the comment text' }).optional(),
    fields: fields.optional(),
  })
  .strict()
  .refine((p) => (p.to === undefined) !== (p.transitionId === undefined), {
    error: 'give either `to` (the target status name) or `transitionId`, not both and not neither',
  });

export const commentParams = z
  .object({
    issue: issues,
    body: z
      .string()
      .trim()
      .min(1, { error: 'is empty; omit it to write a comment that explains the triggering event' })
      .optional(),
  })
  .strict();

const label = z.string().regex(/^\S+$/, { error: 'labels cannot contain spaces' });

export const updateParams = z
  .object({
    issue: issues,
    fields: fields.optional(),
    labels: z
      .union(
        [
          z.array(label),
          z.object({ add: z.array(label).optional(), remove: z.array(label).optional() }).strict(),
        ],
        {
          error: 'must be a list of labels to add, or { add: [...], remove: [...] }',
        },
      )
      .transform((v) =>
        Array.isArray(v) ? { add: v, remove: [] } : { add: v.add ?? [], remove: v.remove ?? [] },
      )
      .optional(),
  })
  .strict()
  // zod runs this even when a field failed (then values are untransformed), so read defensively.
  .refine(
    (p) =>
      Object.keys(p.fields ?? {}).length > 0 ||
      (p.labels?.add?.length ?? 0) + (p.labels?.remove?.length ?? 0) > 0 ||
      Array.isArray(p.labels),
    {
      error: 'give `fields` or `labels` (nothing to update)',
    },
  );

export type TransitionParams = z.output<typeof transitionParams>;
export type CommentParams = z.output<typeof commentParams>;
export type UpdateParams = z.output<typeof updateParams>;

export interface IssuesResult<R> {
  issues: R[];
}

export class JiraActions {
  constructor(
    private readonly client: JiraClient,
    private readonly store: KeyValueStore,
  ) {}

  #render(doc: CommentDoc): unknown {
    return this.client.apiVersion === 3 ? toAdf(doc) : toWiki(doc);
  }

  async transition(p: TransitionParams, ctx: ActionContext) {
    const comment = p.comment === undefined ? undefined : this.#render(parseCommentText(p.comment));
    return this.#each('jira.transition', p.issue, ctx, (issue) =>
      transitionIssue(this.client, {
        issue,
        ...(p.to !== undefined ? { to: p.to } : {}),
        ...(p.transitionId !== undefined ? { transitionId: p.transitionId } : {}),
        ...(comment !== undefined ? { comment: comment as string } : {}),
        ...(p.fields ? { fields: this.#richFields(p.fields) } : {}),
        signal: ctx.signal,
      }),
    );
  }

  async comment(p: CommentParams, ctx: ActionContext) {
    let doc: CommentDoc;
    if (p.body !== undefined) doc = parseCommentText(p.body);
    else if (ctx.cause) doc = defaultComment(ctx.cause);
    else {
      throw new PermanentError(
        JiraErrorCodes.COMMENT_EMPTY,
        'jira.comment has no `body` and no triggering event to describe; give `body` in the step',
        { details: { plugin: 'jira' } },
      );
    }
    const body = this.#render(doc);
    return this.#each('jira.comment', p.issue, ctx, async (issue) => {
      const created = await this.client.call<{ id?: unknown }>({
        method: 'POST',
        path: `/issue/${encodeURIComponent(issue)}/comment`,
        body: { body },
        what: `add a comment to ${issue}`,
        issue,
        signal: ctx.signal,
      });
      return {
        issue,
        outcome: 'commented' as const,
        commentId: created?.id === undefined ? undefined : String(created.id),
      };
    });
  }

  async update(p: UpdateParams, ctx: ActionContext) {
    const body: Record<string, unknown> = {};
    if (p.fields && Object.keys(p.fields).length > 0) body.fields = this.#richFields(p.fields);
    if (p.labels) {
      body.update = {
        labels: [...p.labels.add.map((l) => ({ add: l })), ...p.labels.remove.map((l) => ({ remove: l }))],
      };
    }
    return this.#each('jira.update', p.issue, ctx, async (issue) => {
      await this.client.call({
        method: 'PUT',
        path: `/issue/${encodeURIComponent(issue)}`,
        body,
        what: `update ${issue}`,
        issue,
        signal: ctx.signal,
      });
      return {
        issue,
        outcome: 'updated' as const,
        fields: Object.keys(p.fields ?? {}),
        ...(p.labels ? { labelsAdded: p.labels.add, labelsRemoved: p.labels.remove } : {}),
      };
    });
  }

  /** v3's rich-text system fields take ADF; a plain string there is converted rather than rejected. */
  #richFields(input: Record<string, unknown>): Record<string, unknown> {
    if (this.client.apiVersion !== 3) return input;
    const out = { ...input };
    for (const name of ['description', 'environment']) {
      const v = out[name];
      if (typeof v === 'string') out[name] = toAdf(parseCommentText(v));
    }
    return out;
  }

  /**
   * Runs `fn` for every issue, even after one fails, and reports each. With several issues and an
   * idempotency key, issues that succeeded are remembered so the bus's retry does only the rest
   * (no second comment on an issue that already got one).
   */
  async #each<R>(action: string, keys: string[], ctx: ActionContext, fn: (issue: string) => Promise<R>) {
    if (keys.length === 0) {
      ctx.logger.info({ action }, `${action}: no issues given; nothing to do`);
      return { issues: [] as R[] };
    }
    const done = (result: R) => {
      ctx.logger.info({ action, result }, `${action}: ${(result as { issue?: string }).issue} done`);
      return result;
    };
    if (keys.length === 1) return { issues: [done(await fn(keys[0]!))] };
    const memo = ctx.idempotencyKey ? `done:${ctx.idempotencyKey}:` : undefined;
    const results: R[] = [];
    const failures: Array<{ issue: string; error: unknown }> = [];
    for (const issue of keys) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const remembered = memo ? await this.store.get<R>(memo + issue) : undefined;
      if (remembered) {
        results.push(remembered.value);
        continue;
      }
      try {
        const result = done(await fn(issue));
        results.push(result);
        if (memo) await this.store.set(memo + issue, result);
      } catch (error) {
        failures.push({ issue, error });
      }
    }
    if (failures.length === 0) {
      if (memo) for (const issue of keys) await this.store.delete(memo + issue);
      return { issues: results };
    }
    const infos = failures.map((f) => ({ issue: f.issue, ...toErrorInfo(f.error) }));
    const retryable = infos.some((i) => i.retryable);
    const waits = infos.map((i) => i.retryAfterMs).filter((v): v is number => v !== undefined);
    const message =
      `${action} failed for ${failures.length} of ${keys.length} issues: ` +
      infos.map((i) => `${i.issue}: ${i.message} [${i.code}]`).join('; ');
    const options = {
      details: { plugin: 'jira', succeeded: results, failed: infos },
      ...(waits.length > 0 ? { retryAfterMs: Math.max(...waits) } : {}),
    };
    throw retryable
      ? new RetryableError(JiraErrorCodes.SOME_ISSUES_FAILED, message, options)
      : new PermanentError(JiraErrorCodes.SOME_ISSUES_FAILED, message, options);
  }
}
