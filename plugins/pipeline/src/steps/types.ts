import { z } from 'zod';

// The built-in step types and the fields each takes. load.ts checks presence and literal values
// against these at load time; the rendered values are checked again at run time (templates can
// only be checked once they are filled in).

export interface StepField {
  schema: z.ZodType;
  required?: boolean;
  /** What a valid value looks like, for messages. */
  hint: string;
}

export interface StepType {
  fields: Record<string, StepField>;
  /** At least one of these must be present. */
  oneOf?: string[];
}

const text = z.string().trim().min(1);
const env = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  z.union([z.string(), z.number(), z.boolean()]),
);
const duration = z.union([z.string(), z.number().positive()]);

const command: StepType = {
  fields: {
    command: { schema: text, required: true, hint: 'a shell command, e.g. "mvn clean package"' },
    env: { schema: env, hint: 'a map of NAME: value' },
    directory: { schema: text, hint: 'a directory inside the workspace' },
  },
};

export const STEP_TYPES: Record<string, StepType> = {
  'git-checkout': {
    fields: {
      repository: { schema: text, required: true, hint: 'a Git URL or path' },
      branch: { schema: text, required: true, hint: 'a branch name' },
      create: { schema: z.boolean(), hint: 'true or false' },
      depth: { schema: z.number().int().positive(), hint: 'a whole number > 0' },
      directory: { schema: text, hint: 'a directory inside the workspace' },
    },
  },
  build: command,
  test: command,
  'k8s-deploy': {
    fields: {
      manifest: { schema: text, required: true, hint: 'a manifest file or directory in the workspace' },
      namespace: { schema: text, required: true, hint: 'a Kubernetes namespace name' },
      rollout: { schema: z.union([text, z.array(text)]), hint: 'resources to wait for, e.g. deployment/api' },
      rolloutTimeout: { schema: duration, hint: 'a duration such as "5m"' },
      createNamespace: { schema: z.boolean(), hint: 'true or false' },
      service: { schema: text, hint: 'the service name in DeploymentCompleted' },
      environment: { schema: text, hint: 'the environment name in DeploymentCompleted' },
      version: { schema: text, hint: 'the version in DeploymentCompleted' },
      context: { schema: text, hint: 'a kubeconfig context' },
      kubeconfig: { schema: text, hint: 'a kubeconfig path' },
    },
  },
  'jira-update': {
    fields: {
      issue: { schema: z.union([text, z.array(text)]), hint: 'an issue key or a list of keys' },
      status: { schema: text, hint: 'the target status name, e.g. "In Development"' },
      comment: { schema: text, hint: 'the comment text' },
    },
    oneOf: ['status', 'comment'],
  },
};

/** `<plugin>.<action>`: any action a loaded plugin offers. */
export const ACTION_STEP = /^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9-]*$/;

// Rendered parameters, checked before a step runs.

export const GitCheckoutParams = z.object({
  repository: text,
  branch: text,
  create: z.boolean().default(false),
  depth: z.number().int().positive().optional(),
  directory: text.optional(),
});

export const CommandParams = z.object({
  command: text,
  env: env.optional(),
  directory: text.optional(),
});

export const K8sDeployParams = z.object({
  manifest: text,
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
      error: 'must be a valid namespace name (lower-case letters, digits, "-"; use | lower)',
    })
    .max(63),
  rollout: z.union([text, z.array(text)]).optional(),
  rolloutTimeout: duration.optional(),
  createNamespace: z.boolean().default(true),
  service: text.optional(),
  environment: text.optional(),
  version: z.union([text, z.number()]).transform(String).optional(),
  context: text.optional(),
  kubeconfig: text.optional(),
});

export const JiraUpdateParams = z.object({
  issue: z.union([text, z.array(text).min(1)]),
  status: text.optional(),
  comment: text.optional(),
});
