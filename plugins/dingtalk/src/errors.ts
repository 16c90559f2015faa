// Every error code of @switchyard/plugin-dingtalk. docs/errors/dingtalk.md documents each with a fix;
// core's errors test fails when one is missing there.

export const DingTalkErrorCodes = {
  // what the robot answered (errcode)
  THROTTLED: 'SY_DINGTALK_THROTTLED',
  BUSY: 'SY_DINGTALK_BUSY',
  SECURITY: 'SY_DINGTALK_SECURITY',
  TOKEN_INVALID: 'SY_DINGTALK_TOKEN_INVALID',
  ROBOT_DISABLED: 'SY_DINGTALK_ROBOT_DISABLED',
  ROBOT_MISSING: 'SY_DINGTALK_ROBOT_MISSING',
  TOO_LONG: 'SY_DINGTALK_TOO_LONG',
  REJECTED: 'SY_DINGTALK_REJECTED',
  // transport
  HTTP_STATUS: 'SY_DINGTALK_HTTP_STATUS',
  BAD_RESPONSE: 'SY_DINGTALK_BAD_RESPONSE',
  UNREACHABLE: 'SY_DINGTALK_UNREACHABLE',
  TIMEOUT: 'SY_DINGTALK_TIMEOUT',
  // flow control
  PAUSED: 'SY_DINGTALK_PAUSED',
  // the message itself
  NO_CONTENT: 'SY_DINGTALK_NO_CONTENT',
  MESSAGE_INVALID: 'SY_DINGTALK_MESSAGE_INVALID',
} as const;

export type DingTalkErrorCode = (typeof DingTalkErrorCodes)[keyof typeof DingTalkErrorCodes];
