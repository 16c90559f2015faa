import {
  type ActionContext,
  definePlugin,
  type PluginContext,
  type SwitchyardEvent,
  uuidv7,
  type WebhookRequest,
  type WebhookResponse,
} from '@switchyard/core';
import { isFailure, linkerFrom, renderEvent } from './blocks.js';
import { handleCommand } from './commands.js';
import { permanent, refusal, SlackErrorCodes } from './errors.js';
import { ApprovalGiven, type ApprovalGivenData } from './events.js';
import {
  type AskRecord,
  askBlocks,
  type ButtonValue,
  handleInteraction,
  updateDecidedMessage,
} from './interactions.js';
import {
  type AskParams,
  AskParamsSchema,
  type PostParams,
  PostParamsSchema,
  type SlackOptions,
  SlackOptionsSchema,
} from './options.js';
import { chainOf, Sender, type SentMessage } from './sender.js';
import { ReplayGuard, verifySlackRequest } from './signature.js';

export const PLUGIN_VERSION = '0.1.0';

const slack = definePlugin({
  id: 'slack',
  version: PLUGIN_VERSION,
  core: '^0.1.0',
  description:
    'Posts to Slack (threads per event chain, default layouts), asks for approvals with buttons, answers /switchyard status.',
  config: SlackOptionsSchema,
  emits: [ApprovalGiven],
  subscribes: ['ApprovalGiven'],
  actions: {
    post: {
      description:
        'Posts a message (text/blocks, or the default layout of the cause event), threaded per chain on request.',
      params: PostParamsSchema,
    },
    ask: {
      description: 'Posts a question with Approve/Reject buttons; a click emits ApprovalGiven.',
      params: AskParamsSchema,
      emits: ['ApprovalGiven'],
    },
  },
  setup(ctx: PluginContext<SlackOptions>) {
    const options = ctx.config;
    // Credentials are masked wherever they might surface (logs, errors, API answers).
    ctx.secrets.add(options.token);
    ctx.secrets.add(options.signingSecret);
    if (options.webhookUrl) {
      ctx.secrets.add(options.webhookUrl);
      ctx.secrets.add(new URL(options.webhookUrl).pathname);
    }
    const sender = new Sender(ctx, options);
    const replay = new ReplayGuard(ctx.store, ctx.clock);

    /** Checks signature, timestamp and replay; undefined when the request may go on. */
    async function reject(request: WebhookRequest): Promise<WebhookResponse | undefined> {
      if (!options.signingSecret) {
        return refusal(
          403,
          SlackErrorCodes.REQUEST_UNSIGNED,
          "Slack requests are refused: set plugins.slack.options.signingSecret to the app's Signing Secret",
        );
      }
      const verdict = verifySlackRequest(
        options.signingSecret,
        request.headers,
        request.rawBody,
        ctx.clock.now(),
      );
      if (!verdict.ok) {
        ctx.logger.warn({ path: request.path, reason: verdict.reason }, 'refused a Slack request');
        return refusal(verdict.status, SlackErrorCodes.REQUEST_SIGNATURE, verdict.reason);
      }
      if (!(await replay.claim(verdict.signature))) {
        ctx.logger.warn({ path: request.path }, 'refused a replayed Slack request');
        return refusal(
          401,
          SlackErrorCodes.REQUEST_REPLAYED,
          'this exact request was already received (replayed signature)',
        );
      }
      return undefined;
    }

    async function post(params: PostParams, actx: ActionContext): Promise<SentMessage> {
      const cause = actx.cause;
      let text = params.text;
      let blocks = params.blocks;
      if (text === undefined || blocks === undefined) {
        if (text === undefined && blocks === undefined && !cause) {
          throw permanent(
            SlackErrorCodes.PARAMS,
            'slack.post needs text or blocks when no event caused it: set with.text (or with.blocks)',
          );
        }
        if (cause) {
          const rendered = renderEvent(cause, await issueLinker(ctx, cause));
          text ??= rendered.text;
          if (params.text === undefined) blocks ??= rendered.blocks;
        }
      }
      if (params.thread === 'correlation' && !cause) {
        throw permanent(
          SlackErrorCodes.PARAMS,
          'thread: "correlation" threads by the cause event\'s chain, and this call has no cause: run it from a rule or pipeline, or remove "thread"',
        );
      }
      const broadcast =
        params.broadcast ?? (options.broadcastFailures && cause !== undefined && isFailure(cause));
      return sender.send(
        {
          text: text ?? 'Switchyard notification',
          blocks,
          channel: params.channel,
          threadOf: params.thread === 'correlation' && cause ? chainOf(cause) : undefined,
          broadcast,
        },
        actx.signal,
      );
    }

    async function ask(params: AskParams, actx: ActionContext) {
      if (!options.signingSecret) {
        throw permanent(
          SlackErrorCodes.CONFIG,
          "slack.ask needs plugins.slack.options.signingSecret, so button clicks can be verified; set it and point the app's Interactivity Request URL at https://<runner>/webhooks/slack/interactions",
        );
      }
      const cause = actx.cause;
      if (params.thread === 'correlation' && !cause) {
        throw permanent(SlackErrorCodes.PARAMS, 'thread: "correlation" needs a cause event; remove "thread"');
      }
      const askId = uuidv7();
      const correlationId = cause ? chainOf(cause) : askId;
      const value: ButtonValue = { a: askId, c: correlationId, ...(cause ? { e: cause.id } : {}) };
      const record: AskRecord = {
        question: params.text,
        correlationId,
        ...(cause ? { eventId: cause.id } : {}),
        at: ctx.clock.now(),
      };
      await ctx.store.set<AskRecord>(`ask:${askId}`, record);
      const sent = await sender.send(
        {
          text: params.text,
          blocks: askBlocks(params.text, params.approveLabel, params.rejectLabel, value),
          channel: params.channel,
          threadOf: params.thread === 'correlation' && cause ? chainOf(cause) : undefined,
        },
        actx.signal,
      );
      if (sent.ts)
        await ctx.store.set<AskRecord>(`ask:${askId}`, { ...record, channel: sent.channel!, ts: sent.ts });
      return { ...sent, askId, correlationId };
    }

    return {
      actions: { post, ask },
      routes: [
        {
          method: 'POST',
          path: '/interactions',
          bodyLimit: 256 * 1024,
          async handler(request: WebhookRequest) {
            return (await reject(request)) ?? handleInteraction(ctx, request);
          },
        },
        {
          method: 'POST',
          path: '/commands',
          bodyLimit: 64 * 1024,
          async handler(request: WebhookRequest) {
            return (await reject(request)) ?? handleCommand(ctx, request);
          },
        },
      ],
      async start() {
        await ctx.bus.subscribe({
          id: 'approval-messages',
          types: ['ApprovalGiven'] as const,
          handler: (event, hctx) =>
            updateDecidedMessage(
              ctx,
              sender,
              event as SwitchyardEvent<'ApprovalGiven', ApprovalGivenData>,
              hctx.signal,
            ),
        });
      },
    };
  },
});

/** Links to Jira issues when the chain holds an IssueTransitioned (its `url` is the browse URL). */
async function issueLinker(ctx: PluginContext, cause: SwitchyardEvent) {
  if (cause.type === 'IssueTransitioned') return linkerFrom((cause.data as { url?: string }).url);
  try {
    const [found] = await ctx.bus.query({
      correlationId: chainOf(cause),
      type: 'IssueTransitioned',
      newestFirst: true,
      limit: 1,
    });
    return linkerFrom((found?.data as { url?: string } | undefined)?.url);
  } catch {
    return linkerFrom(undefined);
  }
}

export default slack;
