// Every error code of @switchyard/plugin-slack lives here. docs/errors/slack.md documents each one
// with a fix; core's errors.test.ts fails when a code is missing there.
import { PermanentError, RetryableError, webhookError } from '@switchyard/core';

export const SlackErrorCodes = {
  // configuration and params
  CONFIG: 'SY_SLACK_CONFIG',
  PARAMS: 'SY_SLACK_PARAMS',
  // answers from Slack
  AUTH: 'SY_SLACK_AUTH',
  MISSING_SCOPE: 'SY_SLACK_MISSING_SCOPE',
  CHANNEL_NOT_FOUND: 'SY_SLACK_CHANNEL_NOT_FOUND',
  NOT_IN_CHANNEL: 'SY_SLACK_NOT_IN_CHANNEL',
  CHANNEL_ARCHIVED: 'SY_SLACK_CHANNEL_ARCHIVED',
  INVALID_PAYLOAD: 'SY_SLACK_INVALID_PAYLOAD',
  UPDATE_FAILED: 'SY_SLACK_UPDATE_FAILED',
  API_ERROR: 'SY_SLACK_API_ERROR',
  RATE_LIMITED: 'SY_SLACK_RATE_LIMITED',
  UNAVAILABLE: 'SY_SLACK_UNAVAILABLE',
  BAD_RESPONSE: 'SY_SLACK_BAD_RESPONSE',
  // flow control and threads
  THREAD_PENDING: 'SY_SLACK_THREAD_PENDING',
  STORE_CONTENDED: 'SY_SLACK_STORE_CONTENDED',
  // requests from Slack (interactions, slash commands)
  REQUEST_UNSIGNED: 'SY_SLACK_REQUEST_UNSIGNED',
  REQUEST_SIGNATURE: 'SY_SLACK_REQUEST_SIGNATURE',
  REQUEST_REPLAYED: 'SY_SLACK_REQUEST_REPLAYED',
  REQUEST_INVALID: 'SY_SLACK_REQUEST_INVALID',
  REQUEST_NOT_RECORDED: 'SY_SLACK_REQUEST_NOT_RECORDED',
} as const;

export type SlackErrorCode = (typeof SlackErrorCodes)[keyof typeof SlackErrorCodes];

/** The answer to a refused request from Slack, in the runner's one error shape (core's webhookError). */
export function refusal(status: number, code: SlackErrorCode, message: string) {
  return webhookError(status, code, message);
}

export function permanent(code: SlackErrorCode, message: string, details?: Record<string, unknown>) {
  return new PermanentError(code, message, details ? { details } : {});
}

export function retryable(
  code: SlackErrorCode,
  message: string,
  options: { retryAfterMs?: number; details?: Record<string, unknown> } = {},
) {
  return new RetryableError(code, message, options);
}

/**
 * Maps an `error` string from Slack (Web API `{ok:false, error}` or an incoming webhook's plain-text
 * body) to an error that says whether a retry helps and what to fix. `where` names the call
 * (`chat.postMessage`, `incoming webhook`) and never holds a secret.
 */
export function fromSlackError(
  error: string,
  where: string,
  context: { channel?: string | undefined; retryAfterMs?: number | undefined } = {},
) {
  const details: Record<string, unknown> = { slackError: error, call: where };
  if (context.channel) details.channel = context.channel;
  const channel = context.channel ? ` "${context.channel}"` : '';
  switch (error) {
    case 'invalid_auth':
    case 'not_authed':
    case 'invalid_token':
    case 'account_inactive':
    case 'token_revoked':
    case 'token_expired':
    case 'no_service':
    case 'no_active_hooks':
    case 'action_prohibited':
      return permanent(
        SlackErrorCodes.AUTH,
        `Slack rejected the credentials (${error}) on ${where}: set plugins.slack.options.token to a valid bot token (xoxb-…) or webhookUrl to an active incoming webhook URL`,
        details,
      );
    case 'missing_scope':
    case 'restricted_action':
      return permanent(
        SlackErrorCodes.MISSING_SCOPE,
        `Slack refused ${where} (${error}): give the app the chat:write scope and reinstall it to the workspace`,
        details,
      );
    case 'channel_not_found':
      return permanent(
        SlackErrorCodes.CHANNEL_NOT_FOUND,
        `Slack has no channel${channel} visible to the app (${error}) on ${where}: use the channel ID (C…) from the channel's details and invite the app to it`,
        details,
      );
    case 'not_in_channel':
      return permanent(
        SlackErrorCodes.NOT_IN_CHANNEL,
        `the app is not a member of channel${channel} (${error}): invite it with /invite @<app name>`,
        details,
      );
    case 'is_archived':
    case 'channel_is_archived':
      return permanent(
        SlackErrorCodes.CHANNEL_ARCHIVED,
        `channel${channel} is archived (${error}) on ${where}: unarchive it or point plugins.slack.options.channel / the action's channel at a live one`,
        details,
      );
    case 'invalid_payload':
    case 'invalid_blocks':
    case 'invalid_blocks_format':
    case 'invalid_arguments':
    case 'no_text':
    case 'msg_too_long':
    case 'too_many_attachments':
    case 'invalid_attachments':
      return permanent(
        SlackErrorCodes.INVALID_PAYLOAD,
        `Slack rejected the message (${error}) on ${where}: give text (at most 40,000 characters) or valid Block Kit blocks (at most 50, each with a "type"); test them in the Block Kit Builder`,
        details,
      );
    case 'message_not_found':
    case 'cant_update_message':
    case 'edit_window_closed':
      return permanent(
        SlackErrorCodes.UPDATE_FAILED,
        `Slack cannot update the message (${error}) on ${where}: the message was deleted or was not posted by this app's token`,
        details,
      );
    case 'ratelimited':
    case 'rate_limited':
      return retryable(
        SlackErrorCodes.RATE_LIMITED,
        `Slack rate-limited ${where}; retrying after ${Math.ceil((context.retryAfterMs ?? 1_000) / 1000)} s`,
        { retryAfterMs: context.retryAfterMs ?? 1_000, details },
      );
    case 'internal_error':
    case 'fatal_error':
    case 'service_unavailable':
    case 'request_timeout':
    case 'team_added_to_org':
      return retryable(SlackErrorCodes.UNAVAILABLE, `Slack failed ${where} (${error}); will retry`, {
        details,
      });
    default:
      return permanent(
        SlackErrorCodes.API_ERROR,
        `Slack answered ${where} with error "${error}": see https://api.slack.com/methods for what it means`,
        details,
      );
  }
}
