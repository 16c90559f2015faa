import { createHash } from 'node:crypto';
import {
  type ActionContext,
  definePlugin,
  ErrorCodes,
  isSwitchyardError,
  PermanentError,
  type PluginContext,
  RetryableError,
} from '@switchyard/core';
import { DingTalkErrorCodes } from './errors.js';
import { RobotLimiter } from './limiter.js';
import {
  bodyBytes,
  DINGTALK_MAX_BYTES,
  type DingTalkMessage,
  type Plan,
  plan,
  type SendParams,
  SendParamsSchema,
  splitPlan,
} from './message.js';
import { accessToken, type DingTalkOptions, DingTalkOptionsSchema, robotId } from './options.js';
import { renderEvent } from './render.js';
import { interpret, type Outcome, THROTTLE_PAUSE_MS } from './responses.js';
import { signWebhook } from './sign.js';

export const PLUGIN_VERSION = '0.1.0';

/** Below this, a body DingTalk still calls too long (460101) is not split further. */
const MIN_SPLIT_BYTES = 1_000;
/** Progress records of multi-part messages older than this are removed at start. */
const PROGRESS_TTL_MS = 7 * 24 * 3600_000;

export interface SendResult {
  msgtype: SendParams['msgtype'];
  /** Messages DingTalk accepted for this send (1, or the number of parts of a split message). */
  parts: number;
  /** Whether the text came from the triggering event's default message. */
  rendered: boolean;
}

/** What is kept while a split message is being delivered, so a retry resumes after the last part. */
interface Progress {
  fingerprint: string;
  chunks: string[];
  delivered: number;
  at: number;
}

export const dingtalkPlugin = definePlugin({
  id: 'dingtalk',
  version: PLUGIN_VERSION,
  core: '^0.1.0',
  description:
    'Sends signed, rate-limited messages to a DingTalk group through a custom robot (自定义机器人).',
  config: DingTalkOptionsSchema,
  actions: {
    send: {
      description:
        'Sends a text, markdown, link or actionCard message; without text, renders the triggering event.',
      params: SendParamsSchema,
    },
  },
  setup(ctx) {
    const options = ctx.config;
    // Registered before anything can log: logs, errors and API answers mask these values.
    ctx.secrets.add(accessToken(options.webhook));
    ctx.secrets.add(options.secret);
    const robot = new Robot(ctx);
    return {
      actions: { send: (params, action) => robot.send(params, action) },
      start: () => robot.cleanProgress(),
    };
  },
});

/** One configured robot: composes, splits, rate-limits, signs and posts messages. */
class Robot {
  readonly #ctx: PluginContext<DingTalkOptions>;
  readonly #options: DingTalkOptions;
  readonly #limiter: RobotLimiter;
  readonly #id: string;

  constructor(ctx: PluginContext<DingTalkOptions>) {
    this.#ctx = ctx;
    this.#options = ctx.config;
    this.#id = robotId(ctx.config.webhook);
    this.#limiter = new RobotLimiter({
      store: ctx.store,
      clock: ctx.clock,
      key: `limiter:${this.#id}`,
      ratePerMinute: ctx.config.ratePerMinute,
      logger: ctx.logger,
    });
  }

  async send(params: SendParams, action: ActionContext): Promise<SendResult> {
    const rendered = action.cause ? renderEvent(action.cause, this.#options.locale) : undefined;
    const p = plan(params, {
      keywords: this.#options.keyword,
      locale: this.#options.locale,
      ...(rendered ? { rendered } : {}),
    });
    const usedRendered = rendered !== undefined && params.text === undefined;
    const progressKey = action.idempotencyKey
      ? `progress:${createHash('sha256').update(action.idempotencyKey).digest('hex').slice(0, 32)}`
      : undefined;
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(p.build(p.content, 0, 1)))
      .digest('hex');

    return this.#limiter.exclusive(action.signal, async () => {
      let chunks = splitPlan(p);
      let delivered = 0;
      const stored = progressKey ? await this.#ctx.store.get<Progress>(progressKey) : undefined;
      if (stored && stored.value.fingerprint === fingerprint && Array.isArray(stored.value.chunks)) {
        chunks = stored.value.chunks;
        delivered = stored.value.delivered;
        action.logger.info({ delivered, parts: chunks.length }, 'resuming a split DingTalk message');
      }
      let limit = DINGTALK_MAX_BYTES;
      while (delivered < chunks.length) {
        const message = p.build(chunks[delivered]!, delivered, chunks.length);
        await this.#limiter.acquire(action.signal);
        const outcome = await this.#post(message, action.signal);
        if (outcome.kind === 'too-long') {
          ({ chunks, limit } = this.#resplit(p, chunks, delivered, limit, message, outcome.errmsg));
          continue;
        }
        if (outcome.kind === 'throttled') {
          await this.#limiter.pause(THROTTLE_PAUSE_MS);
          action.logger.warn(
            { robot: this.#id, errcode: outcome.errcode, delivered, parts: chunks.length },
            'DingTalk throttled the robot; pausing it for 10 minutes',
          );
          throw new RetryableError(
            DingTalkErrorCodes.THROTTLED,
            `DingTalk throttled the robot (errcode ${outcome.errcode}: ${outcome.errmsg}); it is paused for 10 minutes and the message is retried after that. Something else may be sending through the same robot, or options.ratePerMinute is above the robot's limit`,
            { retryAfterMs: THROTTLE_PAUSE_MS, details: { errcode: outcome.errcode } },
          );
        }
        delivered++;
        if (progressKey && chunks.length > 1) {
          if (delivered < chunks.length) {
            const progress: Progress = { fingerprint, chunks, delivered, at: this.#ctx.clock.now() };
            await this.#ctx.store.set(progressKey, progress);
          } else await this.#ctx.store.delete(progressKey);
        }
      }
      action.logger.info(
        { robot: this.#id, msgtype: p.msgtype, parts: chunks.length },
        'DingTalk message sent',
      );
      return { msgtype: p.msgtype, parts: chunks.length, rendered: usedRendered };
    });
  }

  /** 460101: DingTalk counts the body as too long; split what is left into smaller parts. */
  #resplit(
    p: Plan,
    chunks: string[],
    from: number,
    limit: number,
    message: DingTalkMessage,
    errmsg: string,
  ): { chunks: string[]; limit: number } {
    const rest = chunks.slice(from).join('\n');
    let next = limit;
    for (;;) {
      next = Math.min(Math.floor(next / 2), Math.floor(bodyBytes(message) / 2));
      if (!p.splittable || next < MIN_SPLIT_BYTES) {
        throw new PermanentError(
          DingTalkErrorCodes.TOO_LONG,
          `DingTalk says the ${p.msgtype} message is too long (errcode 460101: ${errmsg}) and it cannot be split further: shorten the text`,
          { details: { errcode: 460101, bytes: bodyBytes(message) } },
        );
      }
      const parts = splitPlan({ ...p, content: rest }, next);
      if (parts[0] !== chunks[from] || parts.length > 1)
        return { chunks: [...chunks.slice(0, from), ...parts], limit: next };
    }
  }

  async #post(message: DingTalkMessage, signal: AbortSignal): Promise<Outcome> {
    const o = this.#options;
    const url = signWebhook(o.webhook, o.secret, this.#ctx.clock.now());
    let response: Awaited<ReturnType<PluginContext['http']['request']>>;
    try {
      response = await this.#ctx.http.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json;charset=utf-8' },
        body: JSON.stringify(message),
        signal,
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      });
    } catch (error) {
      if (signal.aborted || !isSwitchyardError(error)) throw error;
      if (error.code === ErrorCodes.HTTP_TIMEOUT) {
        throw new RetryableError(
          DingTalkErrorCodes.TIMEOUT,
          `DingTalk did not answer in time (${error.message}); retrying later. If it persists, check the network path to oapi.dingtalk.com or raise options.timeoutMs`,
          { cause: error },
        );
      }
      if (error.code === ErrorCodes.HTTP_NETWORK) {
        throw new RetryableError(
          DingTalkErrorCodes.UNREACHABLE,
          `DingTalk could not be reached (${error.message}); retrying later. Check DNS, proxy and firewall for oapi.dingtalk.com`,
          { cause: error },
        );
      }
      throw error;
    }
    return interpret(response, {
      signed: o.secret !== undefined,
      keywords: o.keyword,
      secrets: [accessToken(o.webhook) ?? '', o.secret ?? ''],
      now: this.#ctx.clock.now(),
    });
  }

  /** Drops progress records of split messages that were never finished (dead-lettered). */
  async cleanProgress(): Promise<void> {
    const store = this.#ctx.store;
    const cutoff = this.#ctx.clock.now() - PROGRESS_TTL_MS;
    for (const key of await store.keys('progress:')) {
      const entry = await store.get<Progress>(key);
      if (!entry || !(entry.value?.at >= cutoff)) await store.delete(key);
    }
  }
}
