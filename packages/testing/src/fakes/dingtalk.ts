import { createHmac } from 'node:crypto';
import { FakeHttpServer, type FakeReply, type FakeRequest } from './server.js';

// A loopback DingTalk custom robot (自定义机器人) at `POST /robot/send?access_token=…`: the security
// settings (加签 with its one-hour window, custom keywords), the message shapes per msgtype, the
// 20,000-byte limit and the 20-a-minute flow control with its 10-minute throttle, answered the way
// DingTalk answers: HTTP 200 with {errcode, errmsg}. Time comes from a controllable clock. It is
// self-contained (node only) so the quickstart can run it as a standalone process.

/** Anything with `now()` (a Clock, a ManualClock), or a function returning epoch ms. */
export type FakeDingTalkClock = { now(): number } | (() => number);

export interface FakeDingTalkOptions {
  /** The robot's access_token (the `access_token` query parameter of its webhook). */
  accessToken: string;
  /** 加签 secret (SEC…): when set, every request needs a valid `timestamp` and `sign`. */
  secret?: string;
  /** Custom keywords (自定义关键词): when set, a message must contain at least one. */
  keyword?: string | string[];
  /** Messages a minute before the robot is throttled (DingTalk: 20). */
  ratePerMinute?: number;
  /** How long a throttled robot refuses messages (DingTalk: 10 minutes). */
  throttleMs?: number;
  /** Largest body accepted, in bytes (DingTalk: 20,000). */
  maxBytes?: number;
  /** Defaults to Date.now. Pass the ManualClock the code under test uses. */
  clock?: FakeDingTalkClock;
}

/** A message DingTalk accepted and would show in the group. */
export interface FakeDingTalkMessage {
  msgtype: 'text' | 'markdown' | 'link' | 'actionCard' | 'feedCard';
  /** The request body as received. */
  body: Record<string, unknown>;
  /** Title (markdown, link, actionCard) or undefined. */
  title: string | undefined;
  /** The text the group sees: text content, or markdown/link/actionCard text. */
  text: string;
  /** Mobiles and user ids that are really notified: in `at` AND written as `@…` in the text. */
  mentioned: string[];
  isAtAll: boolean;
  /** Clock time when it was accepted. */
  at: number;
}

/** A request DingTalk refused, with the errcode it answered. */
export interface FakeDingTalkRejection {
  errcode: number;
  errmsg: string;
  at: number;
  body: unknown;
}

export type FakeDingTalkRobotState = 'enabled' | 'disabled' | 'deleted';

const MORE = ', more: [https://open.dingtalk.com/document/robots/custom-robot-access]';

/** The errcode/errmsg pairs this fake answers with. */
export const DINGTALK_ERRORS = {
  ok: { errcode: 0, errmsg: 'ok' },
  busy: { errcode: -1, errmsg: '系统繁忙' },
  tokenMissing: { errcode: 300001, errmsg: `token is not exist${MORE}` },
  keywords: { errcode: 310000, errmsg: `keywords not in content${MORE}` },
  timestamp: { errcode: 310000, errmsg: `invalid timestamp${MORE}` },
  sign: { errcode: 310000, errmsg: `sign not match${MORE}` },
  ip: (ip: string) => ({ errcode: 310000, errmsg: `ip ${ip} not in whitelist${MORE}` }),
  tokenUnknown: { errcode: 400101, errmsg: 'access_token不存在' },
  robotDisabled: { errcode: 400102, errmsg: '机器人已停用' },
  robotDeleted: { errcode: 400106, errmsg: '机器人不存在' },
  sendTooFast: { errcode: 130101, errmsg: `send too fast, exceed 20 times per minute${MORE}` },
  throttled: { errcode: 410100, errmsg: '发送速度太快而限流' },
  tooLong: { errcode: 460101, errmsg: '消息体超过最大长度 (20000 bytes)' },
  invalidMessage: (why: string) => ({ errcode: 40035, errmsg: `缺少参数 json: ${why}` }),
  unknownMsgtype: { errcode: 40008, errmsg: '不合法的消息类型' },
} as const;

/**
 * A fake DingTalk robot. `webhook` is the URL to configure; `messages` holds what the group would
 * see, `rejections` what was refused and why. `failNext` makes the next answers carry an errcode
 * (e.g. -1 busy); `server.inject` adds HTTP-level faults (status, reset, hang).
 */
export class FakeDingTalk {
  readonly server: FakeHttpServer;
  readonly messages: FakeDingTalkMessage[] = [];
  readonly rejections: FakeDingTalkRejection[] = [];
  /** Robot state: disabled → 400102, deleted → 400106. */
  state: FakeDingTalkRobotState = 'enabled';
  /** When set, requests are refused as coming from this IP outside the robot's allowlist. */
  blockedIp: string | undefined;
  readonly #options: Required<Omit<FakeDingTalkOptions, 'secret' | 'keyword' | 'clock'>> & {
    secret: string | undefined;
    keywords: string[];
  };
  readonly #now: () => number;
  readonly #failures: Array<{ errcode: number; errmsg: string }> = [];
  /** Clock times of accepted messages (the flow-control window). */
  #accepted: number[] = [];
  #throttledUntil = 0;

  constructor(options: FakeDingTalkOptions) {
    if (!options.accessToken) throw new Error('FakeDingTalk needs an accessToken');
    this.#options = {
      accessToken: options.accessToken,
      secret: options.secret,
      keywords:
        options.keyword === undefined
          ? []
          : Array.isArray(options.keyword)
            ? options.keyword
            : [options.keyword],
      ratePerMinute: options.ratePerMinute ?? 20,
      throttleMs: options.throttleMs ?? 600_000,
      maxBytes: options.maxBytes ?? 20_000,
    };
    const clock = options.clock;
    this.#now = clock === undefined ? Date.now : typeof clock === 'function' ? clock : () => clock.now();
    this.server = new FakeHttpServer((req) => this.handle(req));
  }

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    await this.server.start(port, host);
    return this;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  get url(): string {
    return this.server.url;
  }

  /** The robot's webhook URL, as DingTalk shows it (`…/robot/send?access_token=…`). */
  get webhook(): string {
    return `${this.server.url}/robot/send?access_token=${encodeURIComponent(this.#options.accessToken)}`;
  }

  /** Until when (clock ms) the robot is throttled; 0 when it is not. */
  get throttledUntil(): number {
    return this.#throttledUntil > this.#now() ? this.#throttledUntil : 0;
  }

  /** Answers the next `times` well-formed, authorised requests with this errcode instead of sending. */
  failNext(error: { errcode: number; errmsg: string }, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push(error);
  }

  /** Forgets messages, rejections, the flow-control window, the throttle and queued failures. */
  reset(): void {
    this.messages.length = 0;
    this.rejections.length = 0;
    this.#failures.length = 0;
    this.#accepted = [];
    this.#throttledUntil = 0;
    this.state = 'enabled';
    this.blockedIp = undefined;
  }

  private handle(req: FakeRequest): FakeReply {
    if (req.path !== '/robot/send') return { status: 404, body: { errcode: 404, errmsg: 'not found' } };
    if (req.method !== 'POST') return { status: 405, body: { errcode: 405, errmsg: 'method not allowed' } };
    const now = this.#now();
    const refuse = (e: { errcode: number; errmsg: string }): FakeReply => {
      this.rejections.push({ ...e, at: now, body: req.json });
      return { status: 200, body: { errcode: e.errcode, errmsg: e.errmsg } };
    };
    const o = this.#options;

    const token = req.query.get('access_token');
    if (!token) return refuse(DINGTALK_ERRORS.tokenMissing);
    if (token !== o.accessToken) return refuse(DINGTALK_ERRORS.tokenUnknown);
    if (this.state === 'disabled') return refuse(DINGTALK_ERRORS.robotDisabled);
    if (this.state === 'deleted') return refuse(DINGTALK_ERRORS.robotDeleted);
    if (this.blockedIp) return refuse(DINGTALK_ERRORS.ip(this.blockedIp));

    if (o.secret !== undefined) {
      const timestamp = req.query.get('timestamp');
      const sign = req.query.get('sign');
      const ts = Number(timestamp);
      if (!timestamp || !/^\d+$/.test(timestamp) || Math.abs(now - ts) > 3_600_000) {
        return refuse(DINGTALK_ERRORS.timestamp);
      }
      if (req.query.getAll('sign').length !== 1 || req.query.getAll('timestamp').length !== 1) {
        return refuse(DINGTALK_ERRORS.sign);
      }
      // DingTalk url-decodes `sign` once and compares it with base64(HmacSHA256(...)); a sign
      // encoded twice arrives as `%2B…` and does not match.
      const expected = createHmac('sha256', o.secret)
        .update(`${timestamp}\n${o.secret}`, 'utf8')
        .digest('base64');
      if (sign !== expected) return refuse(DINGTALK_ERRORS.sign);
    }

    if (req.rawBody.length > o.maxBytes) return refuse(DINGTALK_ERRORS.tooLong);
    if (
      req.json === undefined ||
      typeof req.json !== 'object' ||
      req.json === null ||
      Array.isArray(req.json)
    ) {
      return refuse(DINGTALK_ERRORS.invalidMessage('body is not a JSON object'));
    }
    const body = req.json as Record<string, unknown>;
    const parsed = parseMessage(body);
    if ('errcode' in parsed) return refuse(parsed);

    if (o.keywords.length > 0 && !o.keywords.some((k) => parsed.texts.some((t) => t.includes(k)))) {
      return refuse(DINGTALK_ERRORS.keywords);
    }

    const failure = this.#failures.shift();
    if (failure) return refuse(failure);

    if (this.#throttledUntil > now) return refuse(DINGTALK_ERRORS.throttled);
    this.#accepted = this.#accepted.filter((t) => t > now - 60_000);
    if (this.#accepted.length >= o.ratePerMinute) {
      this.#throttledUntil = now + o.throttleMs;
      return refuse(DINGTALK_ERRORS.sendTooFast);
    }
    this.#accepted.push(now);
    this.messages.push({ ...parsed.message, body, at: now });
    return { status: 200, body: DINGTALK_ERRORS.ok };
  }
}

type Parsed =
  | { message: Omit<FakeDingTalkMessage, 'body' | 'at'>; texts: string[] }
  | { errcode: number; errmsg: string };

/** Checks the shape DingTalk requires for each msgtype. */
function parseMessage(body: Record<string, unknown>): Parsed {
  const bad = (why: string) => DINGTALK_ERRORS.invalidMessage(why);
  const msgtype = body.msgtype;
  if (typeof msgtype !== 'string') return bad('msgtype is missing');
  const section = body[msgtype];
  if (typeof section !== 'object' || section === null || Array.isArray(section)) {
    return msgtype === 'text' || msgtype === 'markdown' || msgtype === 'link' || msgtype === 'actionCard'
      ? bad(`${msgtype} is missing`)
      : DINGTALK_ERRORS.unknownMsgtype;
  }
  const s = section as Record<string, unknown>;
  const need = (field: string): string | undefined =>
    typeof s[field] === 'string' && (s[field] as string).trim() !== '' ? (s[field] as string) : undefined;
  const at = parseAt(body.at);
  if (typeof at === 'string') return bad(at);
  const notified = (text: string) =>
    [...at.atMobiles, ...at.atUserIds].filter((who) =>
      new RegExp(`@${escapeRe(who)}(?![0-9A-Za-z_])`).test(text),
    );

  switch (msgtype) {
    case 'text': {
      const content = need('content');
      if (!content) return bad('text.content is missing');
      return {
        message: {
          msgtype,
          title: undefined,
          text: content,
          mentioned: notified(content),
          isAtAll: at.isAtAll,
        },
        texts: [content],
      };
    }
    case 'markdown': {
      const title = need('title');
      const text = need('text');
      if (!title || !text) return bad(`markdown.${title ? 'text' : 'title'} is missing`);
      return {
        message: { msgtype, title, text, mentioned: notified(text), isAtAll: at.isAtAll },
        texts: [title, text],
      };
    }
    case 'link': {
      const title = need('title');
      const text = need('text');
      const messageUrl = need('messageUrl');
      if (!title || !text || !messageUrl) {
        return bad(`link.${!title ? 'title' : !text ? 'text' : 'messageUrl'} is missing`);
      }
      // DingTalk shows link messages without any mention.
      return { message: { msgtype, title, text, mentioned: [], isAtAll: false }, texts: [title, text] };
    }
    case 'actionCard': {
      const title = need('title');
      const text = need('text');
      if (!title || !text) return bad(`actionCard.${title ? 'text' : 'title'} is missing`);
      const texts = [title, text];
      if (s.singleTitle !== undefined || s.singleURL !== undefined) {
        const single = need('singleTitle');
        if (!single || !need('singleURL')) return bad('actionCard.singleTitle and singleURL go together');
        texts.push(single);
      } else {
        if (!Array.isArray(s.btns) || s.btns.length === 0) {
          return bad('actionCard needs singleTitle + singleURL or btns');
        }
        for (const b of s.btns as unknown[]) {
          const btn = (b ?? {}) as Record<string, unknown>;
          if (
            typeof btn.title !== 'string' ||
            !btn.title ||
            typeof btn.actionURL !== 'string' ||
            !btn.actionURL
          ) {
            return bad('every actionCard.btns entry needs title and actionURL');
          }
          texts.push(btn.title);
        }
      }
      if (s.btnOrientation !== undefined && s.btnOrientation !== '0' && s.btnOrientation !== '1') {
        return bad('actionCard.btnOrientation must be "0" or "1"');
      }
      return {
        message: { msgtype, title, text, mentioned: notified(text), isAtAll: at.isAtAll },
        texts,
      };
    }
    default:
      return DINGTALK_ERRORS.unknownMsgtype;
  }
}

function parseAt(value: unknown): { atMobiles: string[]; atUserIds: string[]; isAtAll: boolean } | string {
  if (value === undefined) return { atMobiles: [], atUserIds: [], isAtAll: false };
  if (typeof value !== 'object' || value === null) return 'at must be an object';
  const a = value as Record<string, unknown>;
  const list = (v: unknown, name: string): string[] | string => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      return `at.${name} must be a list of strings`;
    return v as string[];
  };
  const atMobiles = list(a.atMobiles, 'atMobiles');
  if (typeof atMobiles === 'string') return atMobiles;
  const atUserIds = list(a.atUserIds, 'atUserIds');
  if (typeof atUserIds === 'string') return atUserIds;
  if (a.isAtAll !== undefined && typeof a.isAtAll !== 'boolean') return 'at.isAtAll must be a boolean';
  return { atMobiles, atUserIds, isAtAll: a.isAtAll === true };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
