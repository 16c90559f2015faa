import { PermanentError, RetryableError } from '@switchyard/core';

// Every error code of @switchyard/plugin-pipeline. docs/errors/pipeline.md documents each with a
// fix; core's errors test fails when one is missing there.

export const PipelineErrorCodes = {
  // pipeline files (reported by `switchyard check` as `<file>:<line>:<col>: …`)
  FILE_UNREADABLE: 'SY_PIPELINE_FILE_UNREADABLE',
  FILE_SYNTAX: 'SY_PIPELINE_FILE_SYNTAX',
  FIELD_MISSING: 'SY_PIPELINE_FIELD_MISSING',
  FIELD_INVALID: 'SY_PIPELINE_FIELD_INVALID',
  STEP_UNKNOWN: 'SY_PIPELINE_STEP_UNKNOWN',
  TRIGGER_UNKNOWN: 'SY_PIPELINE_TRIGGER_UNKNOWN',
  TEMPLATE_INVALID: 'SY_PIPELINE_TEMPLATE_INVALID',
  DUPLICATE_NAME: 'SY_PIPELINE_DUPLICATE_NAME',
  // start-up (the files are fine, the rest of the config is not)
  ACTION_UNAVAILABLE: 'SY_PIPELINE_ACTION_UNAVAILABLE',
  EVENT_UNKNOWN: 'SY_PIPELINE_EVENT_UNKNOWN',
  // runs
  UNKNOWN_PIPELINE: 'SY_PIPELINE_UNKNOWN_PIPELINE',
  TEMPLATE_RENDER: 'SY_PIPELINE_TEMPLATE_RENDER',
  COMMAND_FAILED: 'SY_PIPELINE_COMMAND_FAILED',
  COMMAND_NOT_FOUND: 'SY_PIPELINE_COMMAND_NOT_FOUND',
  STEP_TIMEOUT: 'SY_PIPELINE_STEP_TIMEOUT',
  RUN_TIMEOUT: 'SY_PIPELINE_RUN_TIMEOUT',
  CANCELLED: 'SY_PIPELINE_CANCELLED',
  INTERRUPTED: 'SY_PIPELINE_INTERRUPTED',
  // several runners sharing one store
  LEASE_LOST: 'SY_PIPELINE_LEASE_LOST',
  STORE_CONTENTION: 'SY_PIPELINE_STORE_CONTENTION',
  GIT_FAILED: 'SY_PIPELINE_GIT_FAILED',
  BRANCH_MISSING: 'SY_PIPELINE_BRANCH_MISSING',
  DEPLOY_FAILED: 'SY_PIPELINE_DEPLOY_FAILED',
  ACTION_FAILED: 'SY_PIPELINE_ACTION_FAILED',
  // operator routes (in the 4xx body)
  BAD_REQUEST: 'SY_PIPELINE_BAD_REQUEST',
  NOT_FOUND: 'SY_PIPELINE_NOT_FOUND',
} as const;

export type PipelineErrorCode = (typeof PipelineErrorCodes)[keyof typeof PipelineErrorCodes];

/** A step or run failure: permanent (a pipeline run is never retried by the bus). */
export function stepError(code: PipelineErrorCode, message: string, details?: Record<string, unknown>) {
  return new PermanentError(code, message, details ? { details } : {});
}

export function retryable(code: PipelineErrorCode, message: string) {
  return new RetryableError(code, message);
}
