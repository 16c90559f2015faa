import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'undici';
import { FakeHttpServer, type FakeReply, type FakeRequest } from './server.js';

// A loopback Slack for tests and the quickstart: incoming webhooks, chat.postMessage and chat.update
// (bearer token, JSON or form bodies, Slack's shape checks and error bodies), per-channel rate limits
// with 429 + Retry-After, interaction response_urls, and signed interaction and slash-command
// requests sent to a Switchyard runner. Self-contained: Node and undici only.

export interface FakeSlackChannelInput {
  id: string;
  name?: string;
  archived?: boolean;
}

export interface FakeSlackChannel {
  id: string;
  name: string;
  archived: boolean;
}

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  /** The thread's root ts when the message is a reply. */
  thread_ts?: string;
  reply_broadcast?: boolean;
  text?: string;
  blocks?: Array<Record<string, unknown>>;
  /** How it arrived. */
  via: 'api' | 'webhook' | 'response_url';
  /** Times chat.update (or a response_url with replace_original) rewrote it. */
  updates: number;
  deleted?: boolean;
}

export interface FakeSlackRateLimit {
  /** Messages accepted per channel within `windowMs` (Slack: about 1 per second, short bursts allowed). */
  max: number;
  windowMs: number;
  /** Retry-After to send; by default the time until the window has room again, rounded up. */
  retryAfterSeconds?: number;
}

export interface FakeSlackOptions {
  /** Bot token chat.* accepts (Authorization: Bearer …). */
  token?: string;
  /** Channels that exist; the first one is the default incoming webhook's. */
  channels?: Array<string | FakeSlackChannelInput>;
  /** Incoming webhook paths and the channel each posts to. Default: /services/T000/B000/XXXX → the first channel. */
  webhooks?: Record<string, string>;
  /** Off unless given. */
  rateLimit?: FakeSlackRateLimit;
  /** The fake's clock (ts values, rate-limit windows, request timestamps); Date.now by default. */
  now?: () => number;
  teamId?: string;
}

export interface SignedRequestOptions {
  signingSecret: string;
  /** Unix seconds; now() by default. */
  timestamp?: number;
  /** Send this X-Slack-Signature instead of the right one (`null`: leave the header out). */
  signature?: string | null;
  headers?: Record<string, string>;
}

export interface SlackUser {
  id: string;
  name?: string;
}

export interface SentRequest {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
  /** Exactly what was sent, for replaying it. */
  sent: { url: string; body: string; headers: Record<string, string> };
}

export const FAKE_SLACK_DEFAULT_WEBHOOK = '/services/T000/B000/XXXX';

/** `v0=` hex HMAC-SHA256(signingSecret, `v0:{timestamp}:{body}`), as Slack signs its requests. */
export function slackSignature(
  signingSecret: string,
  timestamp: number | string,
  body: string | Buffer,
): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(body).digest('hex')}`;
}

type Fields = Record<string, unknown>;

export class FakeSlack extends FakeHttpServer {
  readonly token: string;
  readonly teamId: string;
  readonly messages: FakeSlackMessage[] = [];
  readonly channels = new Map<string, FakeSlackChannel>();
  readonly webhooks = new Map<string, string>();
  rateLimit: FakeSlackRateLimit | undefined;
  readonly #now: () => number;
  readonly #sent = new Map<string, number[]>();
  readonly #responseUrls = new Map<string, { channel: string; ts: string }>();
  #seq = 0;

  constructor(options: FakeSlackOptions = {}) {
    super((req) => this.route(req));
    this.token = options.token ?? 'xoxb-fake-bot-token';
    this.teamId = options.teamId ?? 'T000';
    this.#now = options.now ?? Date.now;
    this.rateLimit = options.rateLimit;
    for (const c of options.channels ?? ['C0000000001']) this.addChannel(c);
    const first = [...this.channels.keys()][0]!;
    for (const [path, channel] of Object.entries(
      options.webhooks ?? { [FAKE_SLACK_DEFAULT_WEBHOOK]: first },
    )) {
      this.webhooks.set(path, channel);
    }
  }

  /** Base URL for the plugin's `apiUrl` option. */
  get apiUrl(): string {
    return `${this.url}/api`;
  }

  /** Full URL of an incoming webhook (the default one unless a path is given). */
  webhookUrl(path = [...this.webhooks.keys()][0] ?? FAKE_SLACK_DEFAULT_WEBHOOK): string {
    return `${this.url}${path}`;
  }

  now(): number {
    return this.#now();
  }

  addChannel(input: string | FakeSlackChannelInput): FakeSlackChannel {
    const c = typeof input === 'string' ? { id: input } : input;
    const channel = { id: c.id, name: c.name ?? c.id.toLowerCase(), archived: c.archived ?? false };
    this.channels.set(channel.id, channel);
    return channel;
  }

  archive(channel: string, archived = true): void {
    const c = this.channels.get(channel);
    if (!c) throw new Error(`FakeSlack: no channel ${channel}`);
    c.archived = archived;
  }

  deleteChannel(channel: string): void {
    this.channels.delete(channel);
  }

  /** Messages of a channel (top-level and replies), oldest first. */
  messagesIn(channel: string): FakeSlackMessage[] {
    return this.messages.filter((m) => m.channel === channel);
  }

  /** Top-level messages of a channel (thread roots and unthreaded ones). */
  roots(channel?: string): FakeSlackMessage[] {
    return this.messages.filter((m) => !m.thread_ts && (channel === undefined || m.channel === channel));
  }

  /** Replies in the thread whose root has this ts. */
  replies(threadTs: string): FakeSlackMessage[] {
    return this.messages.filter((m) => m.thread_ts === threadTs);
  }

  message(ts: string, channel?: string): FakeSlackMessage | undefined {
    return this.messages.find((m) => m.ts === ts && (channel === undefined || m.channel === channel));
  }

  /** The next `times` Web API / webhook calls answer 429 with this Retry-After. */
  rateLimitNext(times = 1, retryAfterSeconds = 1): void {
    this.inject(
      {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': String(retryAfterSeconds) },
        body: { ok: false, error: 'ratelimited' },
      },
      times,
      (req) => req.path.startsWith('/api/'),
    );
    this.inject(
      {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': String(retryAfterSeconds) },
        body: 'rate_limited',
      },
      times,
      (req) => this.webhooks.has(req.path),
    );
  }

  // ---- outbound from the fake: signed requests to the system under test ----

  /** POSTs a signed interaction (form body `payload=<json>`), as Slack does when a button is clicked. */
  sendInteraction(url: string, payload: unknown, options: SignedRequestOptions): Promise<SentRequest> {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.sendSigned(url, body, options);
  }

  /** POSTs a signed slash command (form fields), filling Slack's usual fields. */
  sendCommand(
    url: string,
    fields: Record<string, string>,
    options: SignedRequestOptions,
  ): Promise<SentRequest> {
    const channel = [...this.channels.values()][0];
    const defaults: Record<string, string> = {
      token: 'deprecated-verification-token',
      team_id: this.teamId,
      team_domain: 'fake',
      channel_id: channel?.id ?? 'C0000000001',
      channel_name: channel?.name ?? 'general',
      user_id: 'U0000000001',
      user_name: 'alice',
      command: '/switchyard',
      text: '',
      api_app_id: 'A0000000001',
      is_enterprise_install: 'false',
      response_url: `${this.url}/commands/${this.teamId}/${randomUUID()}`,
      trigger_id: `${this.#seq++}.${this.teamId}.${randomUUID().replace(/-/g, '')}`,
    };
    const body = new URLSearchParams({ ...defaults, ...fields }).toString();
    return this.sendSigned(url, body, options);
  }

  /**
   * The block_actions payload Slack sends when `user` clicks the button `actionId` of the recorded
   * message `ts` (its value copied from the message, a working response_url included).
   */
  clickPayload(ts: string, actionId: string, user: SlackUser = { id: 'U0000000001', name: 'alice' }): Fields {
    const message = this.message(ts);
    if (!message) throw new Error(`FakeSlack: no message with ts ${ts}`);
    let found: { block: Fields; element: Fields } | undefined;
    for (const block of message.blocks ?? []) {
      for (const element of (block.elements as Fields[] | undefined) ?? []) {
        if (element.action_id === actionId) found = { block, element };
      }
    }
    if (!found) throw new Error(`FakeSlack: message ${ts} has no element with action_id ${actionId}`);
    const responseId = randomUUID();
    this.#responseUrls.set(responseId, { channel: message.channel, ts: message.ts });
    const channel = this.channels.get(message.channel);
    const nowSec = this.#now() / 1000;
    return {
      type: 'block_actions',
      user: { id: user.id, username: user.name ?? user.id, name: user.name ?? user.id, team_id: this.teamId },
      api_app_id: 'A0000000001',
      token: 'deprecated-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: false,
      },
      trigger_id: `${this.#seq++}.${this.teamId}.${responseId.replace(/-/g, '')}`,
      team: { id: this.teamId, domain: 'fake' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: message.channel, name: channel?.name ?? message.channel },
      message: {
        type: 'message',
        user: 'U0FAKEBOT',
        bot_id: 'B0FAKEBOT',
        ts: message.ts,
        text: message.text ?? '',
        ...(message.blocks ? { blocks: message.blocks } : {}),
        ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
      },
      state: { values: {} },
      response_url: `${this.url}/actions/${this.teamId}/${responseId}`,
      actions: [
        {
          ...found.element,
          block_id: found.block.block_id ?? 'block',
          action_ts: nowSec.toFixed(6),
        },
      ],
    };
  }

  /** Clicks a button of a recorded message: a signed block_actions request to `url`. */
  click(
    url: string,
    ts: string,
    actionId: string,
    options: SignedRequestOptions & { user?: SlackUser },
  ): Promise<SentRequest> {
    return this.sendInteraction(url, this.clickPayload(ts, actionId, options.user), options);
  }

  /** Sends exactly the same bytes and headers again (a replayed request). */
  async resend(previous: SentRequest): Promise<SentRequest> {
    return this.post(previous.sent.url, previous.sent.body, previous.sent.headers);
  }

  private sendSigned(url: string, body: string, options: SignedRequestOptions): Promise<SentRequest> {
    const timestamp = options.timestamp ?? Math.floor(this.#now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      'x-slack-request-timestamp': String(timestamp),
      ...options.headers,
    };
    const signature =
      options.signature === undefined
        ? slackSignature(options.signingSecret, timestamp, body)
        : options.signature;
    if (signature !== null) headers['x-slack-signature'] = signature;
    return this.post(url, body, headers);
  }

  private async post(url: string, body: string, headers: Record<string, string>): Promise<SentRequest> {
    const res = await request(url, { method: 'POST', headers, body });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json, sent: { url, body, headers } };
  }

  // ---- inbound to the fake ----

  private route(req: FakeRequest): FakeReply {
    if (req.method !== 'POST') return { status: 405, body: 'method_not_allowed' };
    if (req.path === '/api/chat.postMessage') return this.api(req, (f) => this.postMessage(f));
    if (req.path === '/api/chat.update') return this.api(req, (f) => this.update(f));
    if (req.path.startsWith('/api/')) return { status: 200, body: { ok: false, error: 'unknown_method' } };
    if (this.webhooks.has(req.path)) return this.incomingWebhook(req, this.webhooks.get(req.path)!);
    if (req.path.startsWith('/services/')) return { status: 404, body: 'no_service' };
    const action = /^\/actions\/[^/]+\/([^/]+)$/.exec(req.path);
    if (action) return this.responseUrl(req, action[1]!);
    if (req.path.startsWith('/commands/')) return { status: 200, body: { ok: true } };
    return { status: 404, body: 'not_found' };
  }

  private api(req: FakeRequest, handle: (fields: Fields) => FakeReply): FakeReply {
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    let fields: Fields;
    let formToken: string | undefined;
    if (contentType.startsWith('application/json')) {
      if (
        req.json === undefined ||
        typeof req.json !== 'object' ||
        req.json === null ||
        Array.isArray(req.json)
      ) {
        return { status: 200, body: { ok: false, error: 'invalid_json' } };
      }
      fields = req.json as Fields;
    } else if (contentType.startsWith('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams(req.rawBody.toString('utf8'));
      fields = Object.fromEntries(form);
      formToken = form.get('token') ?? undefined;
      for (const key of ['blocks', 'attachments']) {
        if (typeof fields[key] === 'string') {
          try {
            fields[key] = JSON.parse(fields[key] as string);
          } catch {
            return { status: 200, body: { ok: false, error: 'invalid_blocks_format' } };
          }
        }
      }
      for (const key of ['reply_broadcast', 'unfurl_links', 'unfurl_media', 'mrkdwn']) {
        if (typeof fields[key] === 'string') fields[key] = fields[key] === 'true' || fields[key] === '1';
      }
    } else {
      return { status: 200, body: { ok: false, error: 'invalid_form_data' } };
    }
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const token = bearer ?? formToken;
    if (!token) return { status: 200, body: { ok: false, error: 'not_authed' } };
    if (token !== this.token) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    return handle(fields);
  }

  private resolveChannel(value: unknown): FakeSlackChannel | undefined {
    if (typeof value !== 'string' || !value) return undefined;
    const name = value.replace(/^#/, '');
    return this.channels.get(value) ?? [...this.channels.values()].find((c) => c.name === name);
  }

  private postMessage(f: Fields): FakeReply {
    const channel = this.resolveChannel(f.channel);
    if (!channel) return apiError('channel_not_found');
    if (channel.archived) return apiError('is_archived');
    const shape = checkContent(f);
    if (shape) return apiError(shape);
    const limited = this.limited(channel.id, 'api');
    if (limited) return limited;
    const threadTs = typeof f.thread_ts === 'string' && f.thread_ts ? f.thread_ts : undefined;
    let root: FakeSlackMessage | undefined;
    if (threadTs) {
      root = this.message(threadTs, channel.id);
      // Slack threads a reply to a reply under the root.
      if (root?.thread_ts) root = this.message(root.thread_ts, channel.id);
    }
    const message = this.record({
      channel: channel.id,
      ts: this.nextTs(),
      ...(threadTs ? { thread_ts: root?.ts ?? threadTs } : {}),
      ...(threadTs && f.reply_broadcast === true ? { reply_broadcast: true } : {}),
      ...(typeof f.text === 'string' ? { text: f.text } : {}),
      ...(Array.isArray(f.blocks) ? { blocks: f.blocks as Fields[] } : {}),
      via: 'api',
      updates: 0,
    });
    return {
      status: 200,
      body: { ok: true, channel: channel.id, ts: message.ts, message: asSlackMessage(message) },
    };
  }

  private update(f: Fields): FakeReply {
    const channel = this.resolveChannel(f.channel);
    if (!channel) return apiError('channel_not_found');
    if (typeof f.ts !== 'string' || !f.ts) return apiError('message_not_found');
    const message = this.message(f.ts, channel.id);
    if (!message || message.deleted) return apiError('message_not_found');
    if (channel.archived) return apiError('is_archived');
    const shape = checkContent(f);
    if (shape) return apiError(shape);
    if (typeof f.text === 'string') message.text = f.text;
    if (Array.isArray(f.blocks)) message.blocks = f.blocks as Fields[];
    message.updates++;
    return {
      status: 200,
      body: {
        ok: true,
        channel: channel.id,
        ts: message.ts,
        text: message.text ?? '',
        message: asSlackMessage(message),
      },
    };
  }

  private incomingWebhook(req: FakeRequest, channelId: string): FakeReply {
    let payload: unknown = req.json;
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      try {
        payload = JSON.parse(new URLSearchParams(req.rawBody.toString('utf8')).get('payload') ?? '');
      } catch {
        payload = undefined;
      }
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      return { status: 400, body: 'invalid_payload' };
    }
    const channel = this.channels.get(channelId);
    if (!channel) return { status: 404, body: 'channel_not_found' };
    if (channel.archived) return { status: 410, body: 'channel_is_archived' };
    const f = payload as Fields;
    const shape = checkContent(f);
    if (shape) return { status: 400, body: shape === 'invalid_blocks' ? 'invalid_blocks' : shape };
    const limited = this.limited(channel.id, 'webhook');
    if (limited) return limited;
    this.record({
      channel: channel.id,
      ts: this.nextTs(),
      ...(typeof f.thread_ts === 'string' ? { thread_ts: f.thread_ts } : {}),
      ...(typeof f.text === 'string' ? { text: f.text } : {}),
      ...(Array.isArray(f.blocks) ? { blocks: f.blocks as Fields[] } : {}),
      via: 'webhook',
      updates: 0,
    });
    return { status: 200, body: 'ok' };
  }

  private responseUrl(req: FakeRequest, id: string): FakeReply {
    const target = this.#responseUrls.get(id);
    if (!target) return { status: 404, body: { ok: false, error: 'expired_url' } };
    const f = req.json as Fields | undefined;
    if (!f || typeof f !== 'object') return { status: 400, body: { ok: false, error: 'invalid_payload' } };
    const message = this.message(target.ts, target.channel);
    if (!message) return { status: 404, body: { ok: false, error: 'message_not_found' } };
    if (f.delete_original === true) {
      message.deleted = true;
      return { status: 200, body: { ok: true } };
    }
    const shape = checkContent(f);
    if (shape) return { status: 400, body: { ok: false, error: shape } };
    if (f.replace_original === true) {
      if (typeof f.text === 'string') message.text = f.text;
      if (Array.isArray(f.blocks)) message.blocks = f.blocks as Fields[];
      message.updates++;
    } else {
      this.record({
        channel: target.channel,
        ts: this.nextTs(),
        ...(typeof f.text === 'string' ? { text: f.text } : {}),
        ...(Array.isArray(f.blocks) ? { blocks: f.blocks as Fields[] } : {}),
        via: 'response_url',
        updates: 0,
      });
    }
    return { status: 200, body: { ok: true } };
  }

  private limited(channel: string, kind: 'api' | 'webhook'): FakeReply | undefined {
    const limit = this.rateLimit;
    if (!limit) return undefined;
    const now = this.#now();
    const recent = (this.#sent.get(channel) ?? []).filter((t) => t > now - limit.windowMs);
    if (recent.length >= limit.max) {
      this.#sent.set(channel, recent);
      const waitMs = recent[0]! + limit.windowMs - now;
      const retryAfter = String(limit.retryAfterSeconds ?? Math.max(1, Math.ceil(waitMs / 1000)));
      return kind === 'api'
        ? { status: 429, headers: { 'retry-after': retryAfter }, body: { ok: false, error: 'ratelimited' } }
        : { status: 429, headers: { 'retry-after': retryAfter }, body: 'rate_limited' };
    }
    recent.push(now);
    this.#sent.set(channel, recent);
    return undefined;
  }

  private nextTs(): string {
    const seconds = Math.floor(this.#now() / 1000);
    return `${seconds}.${String(++this.#seq % 1_000_000).padStart(6, '0')}`;
  }

  private record(message: FakeSlackMessage): FakeSlackMessage {
    this.messages.push(message);
    return message;
  }
}

function apiError(error: string): FakeReply {
  return { status: 200, body: { ok: false, error } };
}

function asSlackMessage(m: FakeSlackMessage): Fields {
  return {
    type: 'message',
    subtype: 'bot_message',
    user: 'U0FAKEBOT',
    bot_id: 'B0FAKEBOT',
    ts: m.ts,
    text: m.text ?? '',
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
  };
}

/** Slack's checks on a message's content; the error string it answers, or undefined when fine. */
function checkContent(f: Fields): string | undefined {
  const hasText = typeof f.text === 'string' && f.text.trim().length > 0;
  const hasBlocks = f.blocks !== undefined;
  if (!hasText && !hasBlocks && f.attachments === undefined) return 'no_text';
  if (typeof f.text === 'string' && f.text.length > 40_000) return 'msg_too_long';
  if (hasBlocks && blocksProblem(f.blocks)) return 'invalid_blocks';
  return undefined;
}

function blocksProblem(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return 'blocks is not an array';
  if (blocks.length === 0 || blocks.length > 50) return 'between 1 and 50 blocks';
  for (const block of blocks) {
    if (typeof block !== 'object' || block === null || typeof (block as Fields).type !== 'string')
      return 'block without type';
    const b = block as Fields;
    const text = b.text as Fields | undefined;
    if (text !== undefined && (typeof text.text !== 'string' || text.text.length > 3_000))
      return 'text too long';
    if (b.type === 'section' && text === undefined && !Array.isArray(b.fields))
      return 'section needs text or fields';
    if (Array.isArray(b.fields) && b.fields.length > 10) return 'too many fields';
    if (b.type === 'actions' || b.type === 'context') {
      if (!Array.isArray(b.elements) || b.elements.length === 0) return 'elements missing';
      for (const e of b.elements as Fields[]) {
        if (e.type === 'button') {
          const label = (e.text as Fields | undefined)?.text;
          if (typeof label !== 'string' || label.length > 75) return 'button text';
          if (e.value !== undefined && (typeof e.value !== 'string' || e.value.length > 2_000))
            return 'button value';
          if (e.action_id !== undefined && (typeof e.action_id !== 'string' || e.action_id.length > 255))
            return 'action_id';
        }
      }
    }
  }
  return undefined;
}
