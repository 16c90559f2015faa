import type { PluginContext, SwitchyardEvent, WebhookRequest, WebhookResponse } from '@switchyard/core';
import { type Block, escapeMrkdwn, renderEvent } from './blocks.js';

// The slash command: `/switchyard status PROJ-123` answers, only to the person who asked
// (response_type ephemeral), with the newest events of the chain that issue is in.

const ISSUE_KEY = /^[A-Z][A-Z0-9_]*-\d+$/;
const MAX_EVENTS = 10;

function ephemeral(text: string, blocks?: Block[]): WebhookResponse {
  return { status: 200, body: { response_type: 'ephemeral', text, ...(blocks ? { blocks } : {}) } };
}

function usage(command: string, problem?: string): WebhookResponse {
  const lines = [
    ...(problem ? [problem] : []),
    `Usage: \`${command} status PROJ-123\`: the latest events of that issue's chain.`,
  ];
  return ephemeral(lines.join('\n'));
}

export async function handleCommand(ctx: PluginContext, request: WebhookRequest): Promise<WebhookResponse> {
  const form = new URLSearchParams(request.rawBody.toString('utf8'));
  const command = form.get('command') || '/switchyard';
  const words = (form.get('text') ?? '').trim().split(/\s+/).filter(Boolean);
  const [sub, arg, ...rest] = words;
  if (!sub || sub.toLowerCase() === 'help') return usage(command);
  if (sub.toLowerCase() !== 'status') return usage(command, `Unknown subcommand "${escapeMrkdwn(sub)}".`);
  if (!arg || rest.length > 0) return usage(command, 'Give exactly one issue key.');
  const key = arg.toUpperCase();
  if (!ISSUE_KEY.test(key))
    return usage(command, `"${escapeMrkdwn(arg)}" is not an issue key like PROJ-123.`);

  const latest = await ctx.bus.query({ subject: key, newestFirst: true, limit: 1 });
  const last = latest[0];
  if (!last) return ephemeral(`No events for ${key} yet.`);
  const chain = await ctx.bus.query({
    correlationId: last.correlationid,
    newestFirst: true,
    limit: MAX_EVENTS,
  });
  const events = chain.length > 0 ? chain : latest;
  const lines = events.map(line);
  const header = `Latest ${events.length === 1 ? 'event' : `${events.length} events`} of ${key}'s chain (newest first):`;
  return ephemeral(`${header}\n${lines.join('\n')}`, [
    { type: 'section', text: { type: 'mrkdwn', text: `*${escapeMrkdwn(header)}*` } },
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 2_900) } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `chain \`${escapeMrkdwn(last.correlationid)}\` · \`switchyard trace ${escapeMrkdwn(last.id)}\``,
        },
      ],
    },
  ]);
}

function line(event: SwitchyardEvent): string {
  const summary = renderEvent(event).text;
  return `• ${event.time.slice(0, 19).replace('T', ' ')} *${escapeMrkdwn(event.type)}*: ${escapeMrkdwn(summary.slice(0, 200))}`;
}
