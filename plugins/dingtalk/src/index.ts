// Public entry of @switchyard/plugin-dingtalk: the default export is the plugin the runner loads.
import { dingtalkPlugin } from './plugin.js';

export default dingtalkPlugin;
export { type DingTalkErrorCode, DingTalkErrorCodes } from './errors.js';
export { type LimiterState, RobotLimiter, type RobotLimiterOptions } from './limiter.js';
export {
  type At,
  DINGTALK_MAX_BYTES,
  type DingTalkMessage,
  type SendParams,
  type SendParamsInput,
  SendParamsSchema,
} from './message.js';
export {
  DINGTALK_MAX_PER_MINUTE,
  type DingTalkOptions,
  type DingTalkOptionsInput,
  DingTalkOptionsSchema,
  robotId,
} from './options.js';
export { dingtalkPlugin, PLUGIN_VERSION, type SendResult } from './plugin.js';
export { type RenderedMessage, renderEvent } from './render.js';
export { Errcode, THROTTLE_PAUSE_MS } from './responses.js';
export { signature, signWebhook } from './sign.js';
