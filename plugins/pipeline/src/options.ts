import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from './duration.js';
import { expandPatterns, loadPipelines, type PipelineDefinition } from './load.js';

// Options under `plugins.pipeline.options`. The runner fills `pipelines` from the top-level
// `pipelines:` list (absolute paths). The files are read and validated here, inside the schema, so
// `switchyard check` reports every problem in them as a config problem with `<file>:<line>:<col>:`.

const duration = (name: string, fallback: number) =>
  z
    .union([z.string(), z.number()])
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return fallback;
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be ${DURATION_HINT}, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return ms;
    });

const nonEmpty = (what: string) =>
  z
    .string()
    .trim()
    .min(1, { error: `must be ${what}` });

export const PipelineOptionsSchema = z
  .object({
    pipelines: z.array(nonEmpty('the path of a pipeline file')).default([]),
    workdir: nonEmpty('a directory path').optional(),
    shell: nonEmpty('the path of a POSIX shell').default('/bin/sh'),
    stepTimeout: duration('stepTimeout', 30 * 60_000),
    runTimeout: duration('runTimeout', 2 * 3_600_000),
    kubectl: nonEmpty('the kubectl executable (name on PATH or path)').default('kubectl'),
    kubeconfig: nonEmpty('the path of a kubeconfig file').optional(),
    context: nonEmpty('a kubeconfig context name').optional(),
    git: nonEmpty('the git executable (name on PATH or path)').default('git'),
    defaults: z
      .object({
        service: nonEmpty('a service name').optional(),
        environment: nonEmpty('an environment name').optional(),
      })
      .strict()
      .default({}),
    /** Finished runs kept in the store (oldest beyond this are forgotten, their logs deleted). */
    keepRuns: z.number().int().positive().max(100_000).default(500),
    /** Keep a finished run's workspace (the checkout) next to its logs; by default it is deleted. */
    keepWorkspaces: z.boolean().default(false),
    /** Time a step gets between SIGTERM and SIGKILL when it is cancelled or times out. */
    killGrace: duration('killGrace', 5_000),
    /**
     * How long a runner's hold on its runs lasts without a heartbeat (renewed every third of it).
     * With several runners on one store, a dead runner's runs are ended and its queues taken over
     * this long after its last heartbeat.
     */
    leaseTtl: duration('leaseTtl', 30_000).refine((ms) => ms >= 3_000, {
      error: 'leaseTtl must be at least 3s (the lease is renewed every third of it)',
    }),
  })
  .strict()
  .superRefine((options, ctx) => {
    // A runner that cannot renew stops its steps killGrace + 1 s before its lease runs out, within
    // the last third of the lease; a longer grace would leave steps running after another runner
    // has taken the run over.
    if (options.leaseTtl < 3 * (options.killGrace + 1_000)) {
      ctx.addIssue({
        code: 'custom',
        path: ['leaseTtl'],
        message: `leaseTtl must be at least 3 × (killGrace + 1s) = ${Math.ceil((3 * (options.killGrace + 1_000)) / 1_000)}s with killGrace ${options.killGrace / 1_000}s: raise leaseTtl or lower killGrace`,
      });
    }
  })
  .transform((options, ctx) => {
    const files = expandPatterns(options.pipelines.map((p) => (isAbsolute(p) ? p : resolve(p))));
    const { pipelines, problems } = loadPipelines(files.paths);
    for (const message of files.problems) ctx.addIssue({ code: 'custom', path: ['pipelines'], message });
    for (const p of problems) {
      const index = files.indexOf.get(p.file) ?? 0;
      ctx.addIssue({ code: 'custom', path: ['pipelines', index], message: p.message });
    }
    return {
      ...options,
      pipelines: files.paths,
      workdir: resolve(options.workdir ?? '.switchyard/pipelines'),
      definitions: pipelines,
    };
  });

export type PipelineOptionsInput = z.input<typeof PipelineOptionsSchema>;
export type PipelineOptions = z.output<typeof PipelineOptionsSchema> & { definitions: PipelineDefinition[] };
