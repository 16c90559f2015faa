import { mkdirSync } from 'node:fs';
import { PipelineErrorCodes as Codes, stepError } from '../errors.js';
import type { StepContext, StepOutcome } from './context.js';
import { CommandParams } from './types.js';
import { insideWorkspace, parseParams } from './util.js';

/** `build` and `test`: a shell command in the workspace; the exit code decides. */
export async function command(ctx: StepContext): Promise<StepOutcome> {
  const p = parseParams(CommandParams, ctx);
  const cwd = p.directory ? insideWorkspace(ctx, p.directory) : ctx.workspace;
  mkdirSync(cwd, { recursive: true });
  const env = { ...ctx.env };
  for (const [k, v] of Object.entries(p.env ?? {})) env[k] = String(v);
  ctx.log.note(`$ ${p.command}`);
  const { exitCode } = await ctx.exec(ctx.options.shell, ['-c', p.command], { cwd, env });
  if (exitCode !== 0) {
    throw stepError(
      Codes.COMMAND_FAILED,
      `${ctx.step.type} step "${ctx.step.name}" failed: \`${p.command}\` exited with code ${exitCode}${exitCode === 127 ? ' (command not found)' : ''}`,
      { exitCode },
    );
  }
  return { result: { exitCode } };
}
