import { DeploymentCompleted, definePlugin, PermanentError } from '@switchyard/core';
import { z } from 'zod';
import { PipelineErrorCodes as Codes } from './errors.js';
import { pipelineEvents } from './events.js';
import { type PipelineOptions, PipelineOptionsSchema } from './options.js';
import { operatorRoutes } from './routes.js';
import { RunManager } from './runner.js';
import { actionsNeeded } from './steps/index.js';
import { RunStore } from './store.js';
import { matchEvent, triggerTypes } from './triggers.js';

export const PLUGIN_VERSION = '0.1.0';

export const runParams = z
  .object({
    pipeline: z.string().min(1, { error: 'must name a pipeline' }),
    issueKey: z.string().min(1).optional(),
    requestedBy: z.string().min(1).optional(),
  })
  .strict();

export const pipelinePlugin = definePlugin({
  id: 'pipeline',
  version: PLUGIN_VERSION,
  core: '^0.1.0',
  description:
    'Runs pipeline files: checkout, build, test, deploy and Jira update stages, started by Jira or any event.',
  config: PipelineOptionsSchema,
  emits: [...pipelineEvents, DeploymentCompleted],
  subscribes: ['IssueTransitioned', 'PipelineRunRequested'],
  actions: {
    run: {
      description: 'Starts a pipeline run (queued behind a running one of the same pipeline and issue).',
      params: runParams,
      emits: [
        'PipelineRunRequested',
        'PipelineStarted',
        'StageCompleted',
        'PipelineCompleted',
        'DeploymentCompleted',
      ],
    },
  },
  setup(ctx) {
    const options = ctx.config as PipelineOptions;
    const pipelines = new Map(options.definitions.map((p) => [p.name, p]));
    const store = new RunStore(ctx.store);
    const manager = new RunManager({
      pipelines,
      options,
      store,
      bus: ctx.bus,
      actions: ctx.actions,
      clock: ctx.clock,
      logger: ctx.logger,
    });
    return {
      routes: operatorRoutes(pipelines, store, manager),
      actions: {
        run: async (params, actionCtx) =>
          manager.requestManual({ ...params, requestedBy: params.requestedBy ?? 'rule' }, actionCtx.cause),
      },
      async start() {
        checkWiring(options, ctx.actions, ctx.events);
        await manager.recover();
        const types = triggerTypes(options.definitions);
        await ctx.bus.subscribe({
          id: 'triggers',
          types,
          // Recording a run is quick; the run itself goes on after the delivery is acknowledged.
          timeoutMs: 30_000,
          handler: async (event) => {
            const matches = matchEvent(pipelines, event, ctx.logger);
            if (matches.length === 0 && event.type === 'PipelineRunRequested') {
              ctx.logger.warn(
                { eventId: event.id, pipeline: (event.data as { pipeline?: unknown }).pipeline },
                `PipelineRunRequested names no loaded pipeline; loaded: ${[...pipelines.keys()].join(', ') || '(none)'}`,
              );
            }
            for (const match of matches) await manager.request(match, event);
          },
        });
        ctx.logger.info(
          { pipelines: [...pipelines.keys()], triggers: types, workdir: options.workdir },
          `pipeline plugin ready: ${pipelines.size} pipeline${pipelines.size === 1 ? '' : 's'}`,
        );
      },
      async stop() {
        await manager.stop(options.killGrace + 1_000);
      },
      health: () => ({
        ok: true,
        detail: `${manager.activeRuns().length} run(s) in progress (runner ${manager.runnerId || 'not started'})`,
      }),
    };
  },
});

/** Actions and event types the pipelines use must exist: a clear error at start, not mid-run. */
function checkWiring(
  options: PipelineOptions,
  actions: { has(name: string): boolean },
  events: { has(type: string): boolean; types(): string[] },
): void {
  const problems: string[] = [];
  for (const p of options.definitions) {
    for (const stage of p.stages)
      for (const step of stage.steps)
        for (const name of actionsNeeded(step)) {
          if (!actions.has(name)) {
            const plugin = name.split('.')[0];
            problems.push(
              `pipeline "${p.name}" step "${step.name}" (${step.location}) needs the action ${name}: load the ${plugin} plugin (plugins.${plugin} in switchyard.yaml)`,
            );
          }
        }
    for (const t of p.triggers) {
      if (t.type === 'event' && !events.has(t.on)) {
        problems.push(
          `pipeline "${p.name}" (${p.file}) is triggered by unknown event type "${t.on}"; known: ${events.types().join(', ')}`,
        );
      }
    }
  }
  const unique = [...new Set(problems)];
  if (unique.length === 0) return;
  const code = unique.some((m) => m.includes('needs the action'))
    ? Codes.ACTION_UNAVAILABLE
    : Codes.EVENT_UNKNOWN;
  throw new PermanentError(code, unique.join('\n'), { details: { problems: unique } });
}
