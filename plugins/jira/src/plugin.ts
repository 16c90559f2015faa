import { definePlugin, IssueTransitioned } from '@switchyard/core';
import { commentParams, JiraActions, transitionParams, updateParams } from './actions.js';
import { JiraClient } from './client.js';
import { authorizationHeader, JiraOptionsSchema } from './options.js';
import { webhookRoute } from './webhook.js';

export const PLUGIN_VERSION = '0.1.0';

export const jiraPlugin = definePlugin({
  id: 'jira',
  version: PLUGIN_VERSION,
  core: '^0.1.0',
  description: 'Jira issue transitions in (webhook), transitions, comments and field updates out.',
  config: JiraOptionsSchema,
  emits: [IssueTransitioned],
  actions: {
    transition: {
      description:
        'Moves issues to a status (picked by target status name or transition id), optionally with a comment.',
      params: transitionParams,
    },
    comment: {
      description:
        'Adds a comment (ADF on v3, wiki markup on v2); without a body, explains the triggering event.',
      params: commentParams,
    },
    update: {
      description: 'Sets fields and adds or removes labels.',
      params: updateParams,
    },
  },
  setup(ctx) {
    const options = ctx.config;
    // Registered before anything can log: every log line and API answer masks these values.
    ctx.secrets.add(options.token);
    ctx.secrets.add(options.webhookSecret);
    ctx.secrets.add(authorizationHeader(options).replace(/^\w+ /, ''));
    const client = new JiraClient(options, ctx.http, ctx.clock);
    const actions = new JiraActions(client, ctx.store);
    return {
      routes: [webhookRoute(options, ctx.bus, ctx.logger)],
      actions: {
        transition: (params, actionCtx) => actions.transition(params, actionCtx),
        comment: (params, actionCtx) => actions.comment(params, actionCtx),
        update: (params, actionCtx) => actions.update(params, actionCtx),
      },
      start() {
        ctx.logger.info(
          {
            baseUrl: options.baseUrl,
            apiVersion: options.apiVersion,
            auth: options.email ? 'basic (email + API token)' : 'bearer (personal access token)',
            ...(options.projects ? { projects: options.projects } : {}),
            ...(options.issueTypes ? { issueTypes: options.issueTypes } : {}),
          },
          'jira plugin ready',
        );
        if (options.webhookSecret === undefined) {
          ctx.logger.warn(
            'POST /webhooks/jira accepts unsigned requests: anyone who can reach it can inject IssueTransitioned events; ' +
              'set plugins.jira.options.webhookSecret to the secret configured on the Jira webhook',
          );
        }
      },
    };
  },
});
