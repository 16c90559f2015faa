// Public entry of @switchyard/plugin-jira: the default export is the plugin the runner loads.
import { jiraPlugin } from './plugin.js';

export default jiraPlugin;
export {
  type CommentParams,
  commentParams,
  type IssuesResult,
  type TransitionParams,
  transitionParams,
  type UpdateParams,
  updateParams,
} from './actions.js';
export { type AdfDoc, type AdfNode, parseCommentText, toAdf, toWiki } from './adf.js';
export { defaultComment } from './comment-text.js';
export { type JiraErrorCode, JiraErrorCodes } from './errors.js';
export { type JiraOptions, type JiraOptionsInput, JiraOptionsSchema } from './options.js';
export type { TransitionResult } from './transition.js';
export { validSignature, WEBHOOK_BODY_LIMIT } from './webhook.js';
export { jiraPlugin };
