import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  isSwitchyardError,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookRoute,
} from '@switchyard/core';
import { PipelineErrorCodes as Codes } from './errors.js';
import type { PipelineDefinition, TriggerDefinition } from './load.js';
import type { RunManager } from './runner.js';
import { type RunStore, summarize } from './store.js';

// Operator routes under /webhooks/pipeline (the runner requires its API token: auth 'token').
// The runner's `switchyard pipeline list|runs|logs|run` call these.

const MAX_LOG_BYTES = 2 * 1024 * 1024;

export function operatorRoutes(
  pipelines: ReadonlyMap<string, PipelineDefinition>,
  store: RunStore,
  manager: RunManager,
): WebhookRoute[] {
  const bad = (message: string): WebhookResponse => ({
    status: 400,
    body: { error: { code: Codes.BAD_REQUEST, message } },
  });
  const notFound = (message: string): WebhookResponse => ({
    status: 404,
    body: { error: { code: Codes.NOT_FOUND, message } },
  });
  return [
    {
      method: 'GET',
      path: '/pipelines',
      auth: 'token',
      handler: () => ({
        status: 200,
        body: {
          pipelines: [...pipelines.values()].map((p) => ({
            name: p.name,
            file: p.file,
            ...(p.description ? { description: p.description } : {}),
            concurrency: p.concurrency,
            triggers: p.triggers.map(describeTrigger),
            stages: p.stages.map((s) => ({
              name: s.name,
              ...(s.always ? { always: true } : {}),
              steps: s.steps.map((step) => ({ number: step.number, name: step.name, type: step.type })),
            })),
          })),
        },
      }),
    },
    {
      method: 'GET',
      path: '/runs',
      auth: 'token',
      handler: async (req: WebhookRequest) => {
        const { pipeline, issue, status, run } = req.query;
        const limitText = req.query.limit ?? '20';
        const limit = Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          return bad('limit must be a whole number from 1 to 500');
        if (pipeline !== undefined && !pipelines.has(pipeline)) {
          return notFound(
            `no pipeline named "${pipeline}"; loaded: ${[...pipelines.keys()].join(', ') || '(none)'}`,
          );
        }
        const all = (await store.list()).reverse();
        const runs = all
          .filter(
            (r) =>
              (run === undefined || r.id === run) &&
              (pipeline === undefined || r.pipeline === pipeline) &&
              (issue === undefined || r.issueKey === issue) &&
              (status === undefined || r.status === status),
          )
          .slice(0, limit)
          .map(summarize);
        return { status: 200, body: { runs } };
      },
    },
    {
      method: 'GET',
      path: '/logs',
      auth: 'token',
      handler: async (req: WebhookRequest) => {
        const runId = req.query.run;
        if (!runId) return bad('give the run id: /logs?run=<id>[&step=<n>]');
        const run = await store.get(runId);
        if (!run) return notFound(`no run ${runId}`);
        const steps = run.stages.flatMap((s) => s.steps.map((step) => ({ stage: s.name, step })));
        let chosen = steps;
        if (req.query.step !== undefined) {
          const n = Number(req.query.step);
          chosen = steps.filter((s) => s.step.number === n || s.step.name === req.query.step);
          if (chosen.length === 0) {
            return notFound(
              `run ${runId} has no step ${req.query.step} (steps: ${steps.map((s) => `${s.step.number} ${s.step.name}`).join(', ')})`,
            );
          }
        }
        const parts: string[] = [];
        for (const { stage, step } of chosen) {
          const file = join(run.logDir, step.log);
          const header = `==> step ${step.number} ${stage}/${step.name} (${step.type}): ${step.status} <==\n`;
          parts.push(chosen.length > 1 ? header : '');
          parts.push(
            existsSync(file)
              ? readTail(file)
              : step.status === 'skipped' || step.status === 'pending'
                ? ''
                : run.runner && run.runner !== manager.runnerId
                  ? `(no log on this runner: the run ran on runner ${run.runner}, whose disk holds ${run.logDir})\n`
                  : '(no log)\n',
          );
        }
        return {
          status: 200,
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: parts.join(''),
        };
      },
    },
    {
      method: 'POST',
      path: '/runs',
      auth: 'token',
      handler: async (req: WebhookRequest) => {
        let body: unknown;
        try {
          body = JSON.parse(req.rawBody.toString('utf8') || '{}');
        } catch {
          return bad('the body must be JSON: {"pipeline": "<name>", "issueKey": "PROJ-1"}');
        }
        const b = (body ?? {}) as Record<string, unknown>;
        if (typeof b.pipeline !== 'string' || b.pipeline === '')
          return bad('"pipeline" (the pipeline name) is required');
        if (
          b.issueKey !== undefined &&
          (typeof b.issueKey !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*-\d+$/.test(b.issueKey))
        ) {
          return bad('"issueKey" must be an issue key such as PROJ-123');
        }
        if (b.requestedBy !== undefined && typeof b.requestedBy !== 'string')
          return bad('"requestedBy" must be a string');
        if (!pipelines.has(b.pipeline)) {
          return notFound(
            `no pipeline named "${b.pipeline}"; loaded: ${[...pipelines.keys()].join(', ') || '(none)'}`,
          );
        }
        try {
          const { runId } = await manager.requestManual({
            pipeline: b.pipeline,
            issueKey: b.issueKey as string | undefined,
            requestedBy: (b.requestedBy as string | undefined) ?? 'api',
          });
          return { status: 202, body: { runId } };
        } catch (error) {
          if (isSwitchyardError(error) && error.retryable) {
            return { status: 503, body: { error: { code: error.code, message: error.message } } };
          }
          throw error;
        }
      },
    },
  ];
}

function describeTrigger(t: TriggerDefinition): Record<string, unknown> {
  if (t.type === 'jira-issue') {
    return {
      type: t.type,
      event: t.event,
      ...(t.statuses ? { status: t.statuses } : {}),
      ...(t.projects ? { project: t.projects } : {}),
      ...(t.issueTypes ? { issueType: t.issueTypes } : {}),
      ...(t.condition ? { if: t.condition.source } : {}),
    };
  }
  if (t.type === 'event')
    return { type: t.type, on: t.on, ...(t.condition ? { if: t.condition.source } : {}) };
  return { type: 'manual' };
}

function readTail(file: string): string {
  const size = statSync(file).size;
  if (size <= MAX_LOG_BYTES) return readFileSync(file, 'utf8');
  const buffer = readFileSync(file);
  return `… (${size - MAX_LOG_BYTES} earlier bytes not shown)\n${buffer.subarray(size - MAX_LOG_BYTES).toString('utf8')}`;
}
