import { defineEvent } from '@switchyard/core';
import { z } from 'zod';

// The event types this plugin defines. Field names are part of the contract (rules, the runner's
// CLI and other plugins read them); add fields, never rename them.

const name = z.string().min(1);

export const PipelineRunRequestedSchema = z.object({
  pipeline: name,
  issueKey: z.string().min(1).optional(),
  requestedBy: z.string().min(1).optional(),
});

export const PipelineStartedSchema = z.object({
  pipeline: name,
  runId: name,
  issueKey: z.string().optional(),
  /** What started it: "jira-issue", "event:<Type>" or "manual". */
  trigger: name,
});

export const StageCompletedSchema = z.object({
  pipeline: name,
  runId: name,
  stage: name,
  outcome: z.enum(['succeeded', 'failed', 'skipped']),
  durationMs: z.number().int().nonnegative(),
  issueKey: z.string().optional(),
  failedStep: z.string().optional(),
  reason: z.string().optional(),
});

export const PipelineCompletedSchema = z.object({
  pipeline: name,
  runId: name,
  outcome: z.enum(['succeeded', 'failed', 'cancelled']),
  failedStage: z.string().optional(),
  failedStep: z.string().optional(),
  /** One line a person understands: "step build exited with code 1", "interrupted"… */
  reason: z.string().optional(),
  /** SY_PIPELINE_* code of the failure. */
  code: z.string().optional(),
  /** Last lines of the failed step's output. */
  tail: z.string().optional(),
  durationMs: z.number().int().nonnegative(),
  /** Directory of the run's step logs on the runner's host. */
  logDir: z.string(),
  issueKey: z.string().optional(),
});

export type PipelineRunRequestedData = z.infer<typeof PipelineRunRequestedSchema>;
export type PipelineStartedData = z.infer<typeof PipelineStartedSchema>;
export type StageCompletedData = z.infer<typeof StageCompletedSchema>;
export type PipelineCompletedData = z.infer<typeof PipelineCompletedSchema>;

export const PipelineRunRequested = defineEvent('PipelineRunRequested', PipelineRunRequestedSchema, {
  description: 'Someone asked for a pipeline run (switchyard pipeline run, POST /events, a rule).',
});
export const PipelineStarted = defineEvent('PipelineStarted', PipelineStartedSchema, {
  description: 'A pipeline run started; caused by its trigger.',
});
export const StageCompleted = defineEvent('StageCompleted', StageCompletedSchema, {
  description: 'A stage of a pipeline run finished, failed or was skipped.',
});
export const PipelineCompleted = defineEvent('PipelineCompleted', PipelineCompletedSchema, {
  description: 'A pipeline run ended: succeeded, failed (with the failed stage and step) or cancelled.',
});

export const pipelineEvents = [
  PipelineRunRequested,
  PipelineStarted,
  StageCompleted,
  PipelineCompleted,
] as const;

declare module '@switchyard/core' {
  interface EventMap {
    PipelineRunRequested: PipelineRunRequestedData;
    PipelineStarted: PipelineStartedData;
    StageCompleted: StageCompletedData;
    PipelineCompleted: PipelineCompletedData;
  }
}
