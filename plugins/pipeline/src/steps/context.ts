import type { ActionInvoker, Clock, Logger, PluginBus, SwitchyardEvent } from '@switchyard/core';
import type { PipelineDefinition, Scope, StepDefinition } from '../load.js';
import type { PipelineOptions } from '../options.js';
import type { StepLog } from '../process.js';
import type { RunRecord } from '../store.js';

/** What a step implementation gets: its rendered params and the run it belongs to. */
export interface StepContext {
  run: RunRecord;
  pipeline: PipelineDefinition;
  step: StepDefinition;
  /** Rendered params (every field of the step but type, name and timeout). */
  params: Record<string, unknown>;
  scope: Scope;
  /** The run's workspace directory (exists). */
  workspace: string;
  /** Environment for child processes: the runner's, plus the pipeline's `env` and run variables. */
  env: NodeJS.ProcessEnv;
  log: StepLog;
  /** Aborted on step timeout, run timeout, cancel or shutdown; reason says which. */
  signal: AbortSignal;
  options: PipelineOptions;
  /** The PipelineStarted event: cause of whatever the step emits or invokes. */
  started: SwitchyardEvent;
  /** Issue keys the run carries (DeploymentCompleted.issueKeys). */
  issueKeys: string[];
  bus: PluginBus;
  actions: ActionInvoker;
  clock: Clock;
  logger: Logger;
  /** Runs an executable (no shell) in the workspace, output to the step log. */
  exec(
    file: string,
    args: readonly string[],
    options?: { cwd?: string; capture?: boolean; env?: NodeJS.ProcessEnv },
  ): Promise<ExecResult>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
}

/** What a step reports back; recorded with the step. */
export interface StepOutcome {
  result?: unknown;
  /** Commit checked out (git-checkout), kept on the run for later steps and DeploymentCompleted. */
  commit?: string;
}

export type StepRunner = (ctx: StepContext) => Promise<StepOutcome | undefined>;
