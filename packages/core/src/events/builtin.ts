import { z } from 'zod';
import { defineEvent } from './registry.js';

// The three event types every Switchyard install knows. Field names are the contract in DESIGN.md;
// changing one breaks rules and plugins written against it.

const isoTime = z.iso.datetime({ offset: true });

export const IssueTransitionedSchema = z.object({
  issueKey: z.string().min(1),
  issueId: z.string().min(1),
  projectKey: z.string().min(1),
  summary: z.string(),
  issueType: z.string(),
  fromStatus: z.string(),
  toStatus: z.string().min(1),
  transitionedBy: z.object({
    accountId: z.string().optional(),
    displayName: z.string().optional(),
    email: z.string().optional(),
  }),
  labels: z.array(z.string()),
  url: z.string(),
  /** The raw Jira fields, custom fields included (customfield_10001…). */
  fields: z.record(z.string(), z.unknown()),
});

export const DeploymentCompletedSchema = z.object({
  service: z.string().min(1),
  environment: z.string().min(1),
  version: z.string(),
  outcome: z.enum(['succeeded', 'failed']),
  namespace: z.string().optional(),
  cluster: z.string().optional(),
  commit: z.string().optional(),
  issueKeys: z.array(z.string()),
  startedAt: isoTime.optional(),
  finishedAt: isoTime.optional(),
  url: z.string().optional(),
});

export const ComparisonOperatorSchema = z.enum(['==', '!=', '>', '<', '>=', '<=']);
export type ComparisonOperator = z.infer<typeof ComparisonOperatorSchema>;

export const MetricSampleSchema = z.object({
  time: z.string(),
  /** null for NaN (no data); ±Inf as ±Number.MAX_VALUE, since JSON has no infinities (see raw). */
  value: z.number().nullable(),
  /** The value exactly as Prometheus wrote it: "0.032", "+Inf", "-Inf", "NaN". */
  raw: z.string().optional(),
  labels: z.record(z.string(), z.string()),
});

export const MetricValidatedSchema = z.object({
  check: z.string().min(1),
  query: z.string().min(1),
  operator: ComparisonOperatorSchema,
  expectedValue: z.number(),
  actualValue: z.number().nullable(),
  /** actualValue exactly as Prometheus wrote it ("+Inf" where actualValue is Number.MAX_VALUE). */
  actualRaw: z.string().optional(),
  verdict: z.enum(['passed', 'failed', 'inconclusive']),
  passed: z.boolean(),
  samples: z.array(MetricSampleSchema),
  reason: z.string().min(1),
  service: z.string().optional(),
  environment: z.string().optional(),
  issueKeys: z.array(z.string()).optional(),
});

export type IssueTransitionedData = z.infer<typeof IssueTransitionedSchema>;
export type DeploymentCompletedData = z.infer<typeof DeploymentCompletedSchema>;
export type MetricValidatedData = z.infer<typeof MetricValidatedSchema>;
export type MetricSample = z.infer<typeof MetricSampleSchema>;

export const IssueTransitioned = defineEvent('IssueTransitioned', IssueTransitionedSchema, {
  description: 'A Jira issue moved from one status to another.',
});
export const DeploymentCompleted = defineEvent('DeploymentCompleted', DeploymentCompletedSchema, {
  description: 'A deployment of a service to an environment finished, successfully or not.',
});
export const MetricValidated = defineEvent('MetricValidated', MetricValidatedSchema, {
  description: 'A metric gate was evaluated against Prometheus; carries the verdict, samples and reason.',
});

export const builtinEvents = [IssueTransitioned, DeploymentCompleted, MetricValidated] as const;

declare module './envelope.js' {
  interface EventMap {
    IssueTransitioned: IssueTransitionedData;
    DeploymentCompleted: DeploymentCompletedData;
    MetricValidated: MetricValidatedData;
  }
}
