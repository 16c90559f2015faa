import { type HttpResponse, PermanentError, parseRetryAfter, RetryableError } from '@switchyard/core';
import { DingTalkErrorCodes } from './errors.js';

/** How long DingTalk throttles a robot that sent too fast. */
export const THROTTLE_PAUSE_MS = 600_000;

/** DingTalk's errcodes that this plugin treats specially. */
export const Errcode = {
  OK: 0,
  BUSY: -1,
  TOKEN_NOT_EXIST: 300001,
  SECURITY: 310000,
  TOKEN_MISSING: 400101,
  ROBOT_DISABLED: 400102,
  ROBOT_MISSING: 400106,
  THROTTLED: 410100,
  SEND_TOO_FAST: 130101,
  TOO_LONG: 460101,
} as const;

export type Outcome =
  | { kind: 'ok' }
  /** 410100/130101: pause the robot, then raise SY_DINGTALK_THROTTLED. */
  | { kind: 'throttled'; errcode: number; errmsg: string }
  /** 460101: split the message and send again. */
  | { kind: 'too-long'; errmsg: string };

export interface ResponseContext {
  /** Whether options.secret is set (changes the advice for a signature failure). */
  signed: boolean;
  keywords: readonly string[];
  /** Values to strip from errmsg before it reaches an error (token, secret). */
  secrets: readonly string[];
  now: number;
}

/**
 * Reads DingTalk's answer (HTTP 200 with {errcode, errmsg}): ok, throttled and too-long are
 * returned for the caller to act on; every other failure is thrown, retryable or not.
 */
export function interpret(response: HttpResponse, c: ResponseContext): Outcome {
  if (response.status !== 200) {
    const retryAfterMs = parseRetryAfter(response.header('retry-after'), c.now);
    throw new RetryableError(
      DingTalkErrorCodes.HTTP_STATUS,
      `DingTalk answered HTTP ${response.status} instead of 200; retrying later`,
      { ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), details: { status: response.status } },
    );
  }
  const body = response.json<{ errcode?: unknown; errmsg?: unknown }>();
  const errcode = typeof body?.errcode === 'number' ? body.errcode : Number(body?.errcode);
  if (!body || typeof body !== 'object' || !Number.isFinite(errcode)) {
    throw new PermanentError(
      DingTalkErrorCodes.BAD_RESPONSE,
      "the webhook answered 200 without DingTalk's {errcode, errmsg}: options.webhook does not point at a DingTalk robot (expected https://oapi.dingtalk.com/robot/send?access_token=…)",
      { details: { contentType: response.header('content-type') } },
    );
  }
  const errmsg = scrub(typeof body.errmsg === 'string' ? body.errmsg : '', c.secrets);
  const details = { errcode, errmsg };
  switch (errcode) {
    case Errcode.OK:
      return { kind: 'ok' };
    case Errcode.THROTTLED:
    case Errcode.SEND_TOO_FAST:
      return { kind: 'throttled', errcode, errmsg };
    case Errcode.TOO_LONG:
      return { kind: 'too-long', errmsg };
    case Errcode.BUSY:
      throw new RetryableError(
        DingTalkErrorCodes.BUSY,
        `DingTalk is busy (errcode -1: ${errmsg}); retrying later`,
        {
          details,
        },
      );
    case Errcode.SECURITY:
      throw new PermanentError(DingTalkErrorCodes.SECURITY, securityMessage(errmsg, c), {
        details: { ...details, setting: securitySetting(errmsg) },
      });
    case Errcode.TOKEN_NOT_EXIST:
    case Errcode.TOKEN_MISSING:
      throw new PermanentError(
        DingTalkErrorCodes.TOKEN_INVALID,
        `DingTalk does not know the robot's access_token (errcode ${errcode}: ${errmsg}): copy the robot's Webhook URL again into options.webhook (群设置 → 机器人 → the robot → Webhook)`,
        { details },
      );
    case Errcode.ROBOT_DISABLED:
      throw new PermanentError(
        DingTalkErrorCodes.ROBOT_DISABLED,
        `the DingTalk robot is disabled (errcode 400102: ${errmsg}): enable it in the group's robot settings (群设置 → 机器人)`,
        { details },
      );
    case Errcode.ROBOT_MISSING:
      throw new PermanentError(
        DingTalkErrorCodes.ROBOT_MISSING,
        `the DingTalk robot no longer exists (errcode 400106: ${errmsg}): add a custom robot to the group again and put its Webhook URL in options.webhook`,
        { details },
      );
    default:
      throw new PermanentError(
        DingTalkErrorCodes.REJECTED,
        `DingTalk rejected the message (errcode ${errcode}: ${errmsg}); the same message would be rejected again`,
        { details },
      );
  }
}

type SecuritySetting = 'keywords' | 'timestamp' | 'signature' | 'ip' | 'unknown';

/** Which of the robot's security settings (安全设置) refused the message, from errmsg. */
export function securitySetting(errmsg: string): SecuritySetting {
  const m = errmsg.toLowerCase();
  if (m.includes('keyword') || errmsg.includes('关键词')) return 'keywords';
  if (m.includes('timestamp') || errmsg.includes('时间戳')) return 'timestamp';
  if (m.includes('sign') || errmsg.includes('签名')) return 'signature';
  if (
    /\bip\b/i.test(errmsg) ||
    m.includes('whitelist') ||
    m.includes('allowlist') ||
    errmsg.includes('白名单')
  )
    return 'ip';
  return 'unknown';
}

function securityMessage(errmsg: string, c: ResponseContext): string {
  const head = `DingTalk refused the message because of the robot's security settings (errcode 310000: ${errmsg})`;
  switch (securitySetting(errmsg)) {
    case 'keywords':
      return c.keywords.length > 0
        ? `${head}: the keywords in options.keyword (${c.keywords.join(', ')}) are not among the robot's custom keywords (自定义关键词); set options.keyword to one of them`
        : `${head}: the robot requires custom keywords (自定义关键词); set options.keyword to one of them`;
    case 'timestamp':
      return `${head}: the signing timestamp is more than an hour away from DingTalk's clock; synchronise this host's clock (NTP)`;
    case 'signature':
      return c.signed
        ? `${head}: the signature does not match; set options.secret to the robot's 加签 secret (starts with SEC) exactly as shown`
        : `${head}: the robot has 加签 (signing) enabled; set options.secret to its secret (starts with SEC)`;
    case 'ip':
      return `${head}: this host's public IP is not in the robot's IP allowlist (IP地址段); add it there`;
    default:
      return `${head}: check the robot's 安全设置 (keywords, 加签 secret, IP allowlist) against options.keyword and options.secret`;
  }
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text.length > 300 ? `${text.slice(0, 297)}...` : text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}
