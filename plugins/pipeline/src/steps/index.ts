import { action, jiraUpdate } from './action.js';
import { command } from './command.js';
import type { StepRunner } from './context.js';
import { gitCheckout } from './git.js';
import { k8sDeploy } from './k8s.js';

export type { StepContext, StepOutcome, StepRunner } from './context.js';

/** The implementation of each built-in step type; `<plugin>.<action>` steps use `action`. */
export const STEP_RUNNERS: Record<string, StepRunner> = {
  'git-checkout': gitCheckout,
  build: command,
  test: command,
  'k8s-deploy': k8sDeploy,
  'jira-update': jiraUpdate,
};

export function runnerFor(type: string): StepRunner {
  return STEP_RUNNERS[type] ?? action;
}

/** The actions a step needs from other plugins (checked at start). */
export function actionsNeeded(step: { type: string; action?: string }): string[] {
  if (step.type === 'jira-update') return ['jira.transition', 'jira.comment'];
  return step.action ? [step.action] : [];
}
