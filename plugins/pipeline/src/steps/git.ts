import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PipelineErrorCodes as Codes, stepError } from '../errors.js';
import type { StepContext, StepOutcome } from './context.js';
import { GitCheckoutParams } from './types.js';
import { insideWorkspace, parseParams } from './util.js';

/**
 * `git-checkout`: clone (or fetch, when the directory already holds a clone) into the run's
 * workspace and check out `branch`. A branch the remote does not have fails the step, unless
 * `create: true`, which creates it locally from the remote's default branch.
 */
export async function gitCheckout(ctx: StepContext): Promise<StepOutcome> {
  const p = parseParams(GitCheckoutParams, ctx);
  const dir = p.directory ? insideWorkspace(ctx, p.directory) : ctx.workspace;
  const shown = redactUrl(p.repository);
  const git = (args: string[], cwd = dir) => ctx.exec(ctx.options.git, args, { cwd, capture: true });
  const fail = (what: string, code: number) =>
    stepError(Codes.GIT_FAILED, `git ${what} failed (exit code ${code}) for ${shown}; see the step log`, {
      repository: shown,
    });

  if (existsSync(resolve(dir, '.git'))) {
    ctx.log.note(`fetching ${shown} in ${dir}`);
    const fetched = await git(['fetch', '--prune', 'origin']);
    if (fetched.exitCode !== 0) throw fail('fetch', fetched.exitCode);
  } else {
    ctx.log.note(`cloning ${shown} into ${dir}`);
    const args = ['clone', '--origin', 'origin', '--no-checkout'];
    if (p.depth) args.push('--depth', String(p.depth), '--no-single-branch');
    const cloned = await git([...args, '--', p.repository, dir], ctx.workspace);
    if (cloned.exitCode !== 0) throw fail('clone', cloned.exitCode);
  }

  const remoteRef = `refs/remotes/origin/${p.branch}`;
  const exists = (await git(['rev-parse', '--verify', '--quiet', `${remoteRef}^{commit}`])).exitCode === 0;
  if (exists) {
    const checkout = await git(['checkout', '-B', p.branch, `origin/${p.branch}`]);
    if (checkout.exitCode !== 0) throw fail(`checkout ${p.branch}`, checkout.exitCode);
  } else if (p.create) {
    const head = await git(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD']);
    const base = head.exitCode === 0 && head.stdout.trim() ? head.stdout.trim() : 'origin/main';
    ctx.log.note(`branch ${p.branch} does not exist in ${shown}; creating it from ${base}`);
    const created = await git(['checkout', '-B', p.branch, base]);
    if (created.exitCode !== 0) throw fail(`checkout -b ${p.branch} ${base}`, created.exitCode);
  } else {
    throw stepError(
      Codes.BRANCH_MISSING,
      `branch "${p.branch}" does not exist in ${shown}; push it, fix the branch template, or set create: true on the git-checkout step`,
      { branch: p.branch, repository: shown },
    );
  }
  const rev = await git(['rev-parse', 'HEAD']);
  const commit = rev.exitCode === 0 ? rev.stdout.trim() : undefined;
  ctx.log.note(`checked out ${p.branch}${commit ? ` at ${commit}` : ''}`);
  return { result: { branch: p.branch, commit, created: !exists }, ...(commit ? { commit } : {}) };
}

/** Hides credentials in URLs (`https://user:token@host/…`) before they reach logs and events. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}
