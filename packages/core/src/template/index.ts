// Templates (`{{ .issue.key | lower }}`) and conditions (`data.environment == "production"`) shared by
// the runner's rules and the pipeline plugin. Data only: see template.ts and condition.ts for the
// grammar and the reasons the engine is hand-written.
export { type Condition, compileCondition } from './condition.js';
export { ConditionError, type SourcePosition, TemplateError } from './errors.js';
export { FILTER_NAMES } from './filters.js';
export { compileTemplate, isTemplated, renderTemplate, type Template } from './template.js';
export { type CompiledValue, compileValue } from './value.js';
