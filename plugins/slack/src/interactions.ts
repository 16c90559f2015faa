import type { PluginContext, SwitchyardEvent, WebhookRequest, WebhookResponse } from '@switchyard/core';
import { type Block, escapeMrkdwn } from './blocks.js';
import { permanent, refusal, retryable, SlackErrorCodes } from './errors.js';
import type { ApprovalGivenData } from './events.js';
import type { Sender } from './sender.js';

// slack.ask's buttons and what a click does: the decision is claimed in the plugin store (first click
// wins, on every runner), ApprovalGiven is appended, and the answer goes back to Slack at once. The
// message is rewritten to show who decided by a durable subscription on ApprovalGiven, so a failing
// chat.update is retried by the bus rather than delaying Slack's 3-second deadline.

export const APPROVE_ACTION = 'switchyard_approve';
export const REJECT_ACTION = 'switchyard_reject';

/** What a button's value carries (at most 2,000 characters in Slack). */
export interface ButtonValue {
  /** The ask's id: its record in the store holds the question. */
  a: string;
  /** Correlation id of the chain. */
  c: string;
  /** Id of the event the question was asked for, when there was one. */
  e?: string;
}

export interface AskRecord {
  question: string;
  correlationId: string;
  eventId?: string;
  channel?: string;
  ts?: string;
  at: number;
}

export interface DecisionRecord {
  askId: string;
  approved: boolean;
  by: { id: string; name?: string };
  at: number;
  channel?: string;
  messageTs?: string;
  /** Slack's response_url for the message (webhook mode); dropped once the message is updated. */
  responseUrl?: string;
  /** Set once the message shows the decision. */
  updated?: boolean;
}

export function askBlocks(
  question: string,
  approveLabel: string,
  rejectLabel: string,
  value: ButtonValue,
): Block[] {
  const v = JSON.stringify(value);
  return [
    { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(question) } },
    {
      type: 'actions',
      block_id: 'switchyard_approval',
      elements: [
        {
          type: 'button',
          action_id: APPROVE_ACTION,
          style: 'primary',
          text: { type: 'plain_text', text: approveLabel },
          value: v,
        },
        {
          type: 'button',
          action_id: REJECT_ACTION,
          style: 'danger',
          text: { type: 'plain_text', text: rejectLabel },
          value: v,
        },
      ],
    },
  ];
}

export function decidedBlocks(
  question: string,
  decision: Pick<DecisionRecord, 'approved' | 'by' | 'at'>,
): Block[] {
  const verb = decision.approved ? ':white_check_mark: *Approved*' : ':no_entry: *Rejected*';
  const when = new Date(decision.at).toISOString().replace('T', ' ').slice(0, 16);
  return [
    { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(question) } },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `${verb} by <@${decision.by.id}> · ${when} UTC` }],
    },
  ];
}

function decidedText(question: string, d: Pick<DecisionRecord, 'approved' | 'by'>): string {
  return `${d.approved ? 'Approved' : 'Rejected'} by ${d.by.name ?? d.by.id}: ${question}`;
}

function parseButtonValue(raw: unknown): ButtonValue | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const v = JSON.parse(raw) as Partial<ButtonValue>;
    if (typeof v.a !== 'string' || typeof v.c !== 'string' || !v.a || !v.c) return undefined;
    if (v.e !== undefined && typeof v.e !== 'string') return undefined;
    return { a: v.a, c: v.c, ...(v.e ? { e: v.e } : {}) };
  } catch {
    return undefined;
  }
}

const invalid = (error: string): WebhookResponse => refusal(400, SlackErrorCodes.REQUEST_INVALID, error);

interface BlockActionsPayload {
  type?: string;
  user?: { id?: string; name?: string; username?: string };
  channel?: { id?: string };
  container?: { channel_id?: string; message_ts?: string };
  message?: { ts?: string; text?: string };
  response_url?: string;
  actions?: Array<{ action_id?: string; value?: string }>;
}

/** Handles a verified interaction request (form field `payload` holding JSON). */
export async function handleInteraction(
  ctx: PluginContext,
  request: WebhookRequest,
): Promise<WebhookResponse> {
  const form = new URLSearchParams(request.rawBody.toString('utf8'));
  const raw = form.get('payload');
  if (raw === null) return invalid('the form field "payload" is missing (Slack sends payload=<JSON>)');
  let payload: BlockActionsPayload;
  try {
    payload = JSON.parse(raw) as BlockActionsPayload;
  } catch {
    return invalid('the form field "payload" is not JSON');
  }
  if (typeof payload !== 'object' || payload === null) return invalid('the payload is not a JSON object');
  if (payload.type !== 'block_actions') return { status: 200 }; // view submissions etc.: not ours
  const action = payload.actions?.find(
    (a) => a.action_id === APPROVE_ACTION || a.action_id === REJECT_ACTION,
  );
  if (!action) return { status: 200 };
  const value = parseButtonValue(action.value);
  if (!value) return invalid('the button value is not one slack.ask wrote');
  const userId = payload.user?.id;
  if (!userId) return invalid('the payload has no user.id');
  const name = payload.user?.name ?? payload.user?.username;
  const channel = payload.container?.channel_id ?? payload.channel?.id;
  const messageTs = payload.container?.message_ts ?? payload.message?.ts;
  const approved = action.action_id === APPROVE_ACTION;

  const ask = (await ctx.store.get<AskRecord>(`ask:${value.a}`))?.value;
  const question = ask?.question ?? payload.message?.text ?? '';
  const decision: DecisionRecord = {
    askId: value.a,
    approved,
    by: { id: userId, ...(name ? { name } : {}) },
    at: ctx.clock.now(),
    ...(channel ? { channel } : {}),
    ...(messageTs ? { messageTs } : {}),
    ...(typeof payload.response_url === 'string' ? { responseUrl: payload.response_url } : {}),
  };
  const key = decisionKey(value.a, channel, messageTs);
  const claimed = await ctx.store.compareAndSet<DecisionRecord>(key, decision, 0);
  if (claimed === undefined) {
    const first = (await ctx.store.get<DecisionRecord>(key))?.value;
    ctx.logger.info(
      { askId: value.a, correlationId: value.c, by: userId, decidedBy: first?.by.id },
      'ignored a click on a question that was already decided',
    );
    return { status: 200 };
  }
  try {
    const cause: Pick<SwitchyardEvent, 'id' | 'correlationid'> | null = value.e
      ? ((await ctx.bus.get(value.e)) ?? { id: value.e, correlationid: value.c })
      : null;
    const data: ApprovalGivenData = {
      approved,
      by: decision.by,
      correlationId: value.c,
      question,
      ...(messageTs ? { messageTs } : {}),
      ...(channel ? { channel } : {}),
    };
    const subject = cause && 'subject' in cause ? (cause as SwitchyardEvent).subject : undefined;
    await ctx.bus.publish('ApprovalGiven', data, {
      cause,
      ...(subject ? { subject } : {}),
      // One decision per question, even across copies of the message (a redelivered ask).
      deliveryKey: `slack:approval:${value.a}`,
    });
  } catch (error) {
    // Give the click back, so Slack's retry or the next click can record it.
    await ctx.store.delete(key).catch(() => undefined);
    ctx.logger.error({ askId: value.a, err: (error as Error).message }, 'could not record an approval');
    return refusal(500, SlackErrorCodes.REQUEST_NOT_RECORDED, 'could not record the decision; click again');
  }
  return { status: 200 };
}

export function decisionKey(
  askId: string,
  channel: string | undefined,
  messageTs: string | undefined,
): string {
  return channel && messageTs ? `decision:${channel}:${messageTs}` : `decision:${askId}`;
}

/**
 * Rewrites the asking message to show who decided: chat.update with the bot token, the
 * interaction's response_url with an incoming webhook. Runs in a durable subscription (retried).
 */
export async function updateDecidedMessage(
  ctx: PluginContext,
  sender: Sender,
  event: SwitchyardEvent<'ApprovalGiven', ApprovalGivenData>,
  signal: AbortSignal,
): Promise<unknown> {
  if (event.source !== `switchyard/plugin-${ctx.id}`) return { skipped: 'not asked by this plugin' };
  const { channel, messageTs } = event.data;
  if (!channel || !messageTs) return { skipped: 'no message to update' };
  const key = `decision:${channel}:${messageTs}`;
  const entry = await ctx.store.get<DecisionRecord>(key);
  if (!entry) return { skipped: 'no decision recorded for the message' };
  const decision = entry.value;
  if (decision.updated) return { updated: true };
  const question = event.data.question;
  const blocks = decidedBlocks(question, decision);
  const body = { text: decidedText(question, decision), blocks };
  if (sender.api) {
    await sender.api.update({ channel, ts: messageTs, ...body }, signal);
  } else if (decision.responseUrl) {
    await postToResponseUrl(ctx, decision.responseUrl, { replace_original: true, ...body }, signal);
  } else {
    return { skipped: 'no bot token and no response_url' };
  }
  const { responseUrl: _dropped, ...kept } = decision;
  await ctx.store.set<DecisionRecord>(key, { ...kept, updated: true });
  return { updated: true, channel, ts: messageTs };
}

/** response_url is a capability (anyone holding it may rewrite the message): never in errors or logs. */
async function postToResponseUrl(
  ctx: PluginContext,
  url: string,
  body: Record<string, unknown>,
  signal: AbortSignal,
): Promise<void> {
  let status: number;
  try {
    status = (await ctx.http.request(url, { method: 'POST', body, retry: false, signal })).status;
  } catch (error) {
    if (signal.aborted) throw error;
    throw retryable(
      SlackErrorCodes.UNAVAILABLE,
      "posting to the interaction's response_url failed; will retry",
    );
  }
  if (status < 300) return;
  if (status === 429 || status >= 500) {
    throw retryable(
      SlackErrorCodes.UNAVAILABLE,
      `Slack answered the interaction's response_url with HTTP ${status}; will retry`,
    );
  }
  throw permanent(
    SlackErrorCodes.UPDATE_FAILED,
    `Slack refused the interaction's response_url (HTTP ${status}): it expires 30 minutes after the click; configure a bot token so chat.update is used instead`,
  );
}
