import { defineEvent } from '@switchyard/core';
import { z } from 'zod';

export const ApprovalGivenSchema = z.object({
  /** true for Approve, false for Reject. */
  approved: z.boolean(),
  /** The Slack user who clicked. */
  by: z.object({ id: z.string().min(1), name: z.string().optional() }),
  /** Correlation id of the chain the question was asked for. */
  correlationId: z.string().min(1),
  /** The question as it was asked. */
  question: z.string(),
  /** The message holding the buttons. */
  messageTs: z.string().optional(),
  channel: z.string().optional(),
});

export type ApprovalGivenData = z.infer<typeof ApprovalGivenSchema>;

export const ApprovalGiven = defineEvent('ApprovalGiven', ApprovalGivenSchema, {
  description: 'Someone clicked Approve or Reject on a question slack.ask posted.',
});

declare module '@switchyard/core' {
  interface EventMap {
    ApprovalGiven: ApprovalGivenData;
  }
}
