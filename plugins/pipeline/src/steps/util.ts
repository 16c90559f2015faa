import { isAbsolute, relative, resolve } from 'node:path';
import type { z } from 'zod';
import { PipelineErrorCodes as Codes, stepError } from '../errors.js';
import type { StepContext } from './context.js';

/** Checks rendered params against the step's schema; a failure names the field and the step. */
export function parseParams<S extends z.ZodType>(schema: S, ctx: StepContext): z.output<S> {
  const parsed = schema.safeParse(ctx.params);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `"${i.path.join('.') || '(params)'}" ${i.message}`);
  throw stepError(
    Codes.TEMPLATE_RENDER,
    `${ctx.step.type} step "${ctx.step.name}" (${ctx.step.location}) got invalid values after rendering: ${issues.join('; ')}`,
  );
}

/** A path inside the workspace; `..` escapes are refused. */
export function insideWorkspace(ctx: StepContext, path: string): string {
  const full = isAbsolute(path) ? path : resolve(ctx.workspace, path);
  const rel = relative(ctx.workspace, full);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw stepError(Codes.FIELD_INVALID, `"${path}" is outside the run's workspace ${ctx.workspace}`);
  }
  return full;
}
