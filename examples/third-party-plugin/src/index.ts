import { defineEvent, definePlugin, PermanentError, RetryableError, webhookError } from '@switchyard/core';
import { z } from 'zod';

// A plugin written as an outsider would: it depends only on the published @switchyard/core (as a
// peer), adds its own event type, receives a webhook and offers an action.

export const MonitorStatusChanged = defineEvent(
  'MonitorStatusChanged',
  z.object({
    monitor: z.string(),
    status: z.enum(['up', 'down']),
    url: z.string(),
    checkedAt: z.string(),
  }),
  { description: 'An uptime monitor went up or down.' },
);

declare module '@switchyard/core' {
  interface EventMap {
    MonitorStatusChanged: z.infer<typeof MonitorStatusChanged.schema>;
  }
}

const Options = z.object({
  /** Base URL of the monitoring service's API. */
  apiUrl: z.url(),
  apiKey: z.string().min(8, 'apiKey looks too short; copy the whole key from the monitor settings'),
});

const webhookBody = z.object({
  monitor: z.string().min(1),
  status: z.enum(['up', 'down']),
  url: z.string(),
  checkedAt: z.iso.datetime(),
  id: z.string().min(1),
});

export default definePlugin({
  id: 'uptime',
  version: '1.0.0',
  core: '^0.1.0',
  description: 'Uptime monitor webhooks in, monitor pauses out.',
  config: Options,
  emits: [MonitorStatusChanged],
  actions: {
    pause: {
      description: 'Pause a monitor (e.g. during a deployment).',
      params: z.object({ monitor: z.string().min(1), minutes: z.number().int().positive().default(15) }),
    },
  },
  setup(ctx) {
    return {
      routes: [
        {
          method: 'POST',
          path: '',
          async handler(request) {
            let json: unknown;
            try {
              json = JSON.parse(request.rawBody.toString('utf8'));
            } catch {
              return webhookError(400, 'UPTIME_NOT_JSON', 'body is not JSON');
            }
            const parsed = webhookBody.safeParse(json);
            if (!parsed.success) {
              const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
              return webhookError(400, 'UPTIME_INVALID', 'not an uptime monitor notification', { issues });
            }
            const { id, ...data } = parsed.data;
            const result = await ctx.bus.publish('MonitorStatusChanged', data, {
              subject: data.monitor,
              deliveryKey: `uptime:${id}`,
            });
            return {
              status: result.duplicate ? 200 : 202,
              body: { id: result.event.id, duplicate: result.duplicate },
            };
          },
        },
      ],
      actions: {
        async pause(params, action) {
          const res = await ctx.http.request(
            `${ctx.config.apiUrl}/monitors/${encodeURIComponent(params.monitor)}/pause`,
            {
              method: 'POST',
              headers: { authorization: `Bearer ${ctx.config.apiKey}` },
              body: { minutes: params.minutes },
              signal: action.signal,
            },
          );
          if (res.status === 200) return { paused: params.monitor, minutes: params.minutes };
          if (res.status === 404)
            throw new PermanentError('UPTIME_UNKNOWN_MONITOR', `no monitor named "${params.monitor}"`);
          if (res.status === 401)
            throw new PermanentError(
              'UPTIME_AUTH',
              'the monitor API rejected apiKey; check plugins.uptime.options.apiKey',
            );
          throw new RetryableError('UPTIME_UNAVAILABLE', `the monitor API answered ${res.status}`);
        },
      },
    };
  },
});
