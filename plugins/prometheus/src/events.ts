import { defineEvent } from '@switchyard/core';
import { z } from 'zod';

const isoTime = z.iso.datetime({ offset: true });

/** One alert from an Alertmanager webhook notification (payload version 4). */
export const AlertFiredSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  /** The `alertname` label ("" when the alert has none). */
  alertname: z.string(),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  startsAt: isoTime,
  /** Absent while Alertmanager has no end time (it sends 0001-01-01T00:00:00Z). */
  endsAt: isoTime.optional(),
  fingerprint: z.string().min(1),
  generatorURL: z.string(),
  receiver: z.string(),
  externalURL: z.string(),
});

export type AlertFiredData = z.infer<typeof AlertFiredSchema>;

export const AlertFired = defineEvent('AlertFired', AlertFiredSchema, {
  description:
    'An alert Alertmanager sent to the webhook: firing or resolved, with its labels and annotations.',
});

declare module '@switchyard/core' {
  interface EventMap {
    AlertFired: AlertFiredData;
  }
}
