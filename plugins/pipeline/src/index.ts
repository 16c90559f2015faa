import { pipelinePlugin } from './plugin.js';

export { type PipelineErrorCode, PipelineErrorCodes } from './errors.js';
export {
  PipelineCompleted,
  type PipelineCompletedData,
  PipelineCompletedSchema,
  PipelineRunRequested,
  type PipelineRunRequestedData,
  PipelineRunRequestedSchema,
  PipelineStarted,
  type PipelineStartedData,
  PipelineStartedSchema,
  pipelineEvents,
  StageCompleted,
  type StageCompletedData,
  StageCompletedSchema,
} from './events.js';
export {
  type LoadProblem,
  type LoadResult,
  loadPipelineFile,
  loadPipelines,
  type PipelineDefinition,
} from './load.js';
export { type PipelineOptions, type PipelineOptionsInput, PipelineOptionsSchema } from './options.js';
export { PLUGIN_VERSION, pipelinePlugin, runParams } from './plugin.js';
export type { RunRecord, RunStatus, RunSummary, StageRecord, StepRecord } from './store.js';

export default pipelinePlugin;
