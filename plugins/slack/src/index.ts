import slack from './plugin.js';

export { type Block, escapeMrkdwn, isFailure, type Rendered, renderEvent } from './blocks.js';
export { type SlackErrorCode, SlackErrorCodes } from './errors.js';
export { ApprovalGiven, type ApprovalGivenData, ApprovalGivenSchema } from './events.js';
export {
  type AskParams,
  AskParamsSchema,
  type PostParams,
  PostParamsSchema,
  type SlackOptions,
  SlackOptionsSchema,
} from './options.js';
export { PLUGIN_VERSION } from './plugin.js';
export { MAX_SKEW_SECONDS, signSlackRequest, verifySlackRequest } from './signature.js';

export default slack;
