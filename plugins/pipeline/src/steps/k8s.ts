import { existsSync } from 'node:fs';
import type { DeploymentCompletedData } from '@switchyard/core';
import { isShutdown } from '../abort.js';
import { parseDuration } from '../duration.js';
import { PipelineErrorCodes as Codes, stepError } from '../errors.js';
import type { StepContext, StepOutcome } from './context.js';
import { K8sDeployParams } from './types.js';
import { insideWorkspace, parseParams } from './util.js';

const ROLLOUT_KINDS = /^(deployment|statefulset|daemonset)(\.apps)?\/\S+$/;
const DEFAULT_ROLLOUT_TIMEOUT_MS = 5 * 60_000;

/**
 * `k8s-deploy`: creates the namespace when absent, `kubectl apply -f <manifest> -n <namespace>`,
 * then waits for the rollout of what was applied (or of `rollout:`), and emits DeploymentCompleted
 * with the outcome either way.
 */
export async function k8sDeploy(ctx: StepContext): Promise<StepOutcome> {
  const p = parseParams(K8sDeployParams, ctx);
  const kubeconfig = p.kubeconfig ?? ctx.options.kubeconfig;
  const context = p.context ?? ctx.options.context;
  const global = [
    ...(kubeconfig ? ['--kubeconfig', kubeconfig] : []),
    ...(context ? ['--context', context] : []),
  ];
  const kubectl = (args: string[], capture = false) =>
    ctx.exec(ctx.options.kubectl, [...global, ...args], { capture });
  const ns = p.namespace;
  const startedAt = new Date(ctx.clock.now()).toISOString();
  const deployment = {
    service: p.service ?? ctx.options.defaults.service ?? ctx.pipeline.name,
    environment: p.environment ?? ctx.options.defaults.environment ?? 'dev',
    version: p.version ?? ctx.run.commit?.slice(0, 12) ?? ctx.run.id,
  };
  const emit = (outcome: 'succeeded' | 'failed') => {
    const data: DeploymentCompletedData = {
      ...deployment,
      outcome,
      namespace: ns,
      ...(context ? { cluster: context } : {}),
      ...(ctx.run.commit ? { commit: ctx.run.commit } : {}),
      issueKeys: ctx.issueKeys,
      startedAt,
      finishedAt: new Date(ctx.clock.now()).toISOString(),
    };
    return ctx.bus.publish('DeploymentCompleted', data, {
      cause: ctx.started,
      ...(ctx.run.issueKey ? { subject: ctx.run.issueKey } : {}),
    });
  };
  const fail = (message: string) => stepError(Codes.DEPLOY_FAILED, message, { namespace: ns });

  try {
    const manifest = insideWorkspace(ctx, p.manifest);
    if (!existsSync(manifest)) {
      throw fail(
        `manifest "${p.manifest}" does not exist in the workspace (${manifest}); check the path or the git-checkout step`,
      );
    }
    if (p.createNamespace) {
      const found = await kubectl(['get', 'namespace', ns]);
      if (found.exitCode !== 0) {
        ctx.log.note(`namespace ${ns} not found; creating it`);
        const created = await kubectl(['create', 'namespace', ns]);
        if (created.exitCode !== 0)
          throw fail(`kubectl create namespace ${ns} exited with code ${created.exitCode}`);
      }
    }
    // As written (kubectl runs in the workspace), so `k8s/dev/` stays a directory in the log.
    const applied = await kubectl(['apply', '-f', p.manifest, '-n', ns, '-o', 'name'], true);
    if (applied.exitCode !== 0)
      throw fail(`kubectl apply -f ${p.manifest} -n ${ns} exited with code ${applied.exitCode}`);
    const resources =
      p.rollout === undefined
        ? applied.stdout
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => ROLLOUT_KINDS.test(l))
        : [p.rollout].flat();
    const timeoutMs = parseDuration(p.rolloutTimeout) ?? DEFAULT_ROLLOUT_TIMEOUT_MS;
    for (const resource of resources) {
      const status = await kubectl([
        'rollout',
        'status',
        resource,
        '-n',
        ns,
        `--timeout=${Math.ceil(timeoutMs / 1_000)}s`,
      ]);
      if (status.exitCode !== 0) {
        throw fail(
          `rollout of ${resource} in ${ns} did not complete (kubectl rollout status exited with code ${status.exitCode})`,
        );
      }
    }
    await emit('succeeded');
    return { result: { namespace: ns, resources, ...deployment } };
  } catch (error) {
    if (!isShutdown(ctx.signal)) {
      await emit('failed').catch((e) => ctx.logger.warn({ err: e }, 'could not emit DeploymentCompleted'));
    }
    throw error;
  }
}
