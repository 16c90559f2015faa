import { PermanentError } from '@switchyard/core';
import { z } from 'zod';
import { DingTalkErrorCodes } from './errors.js';
import type { Locale } from './options.js';
import { detailsLabel, type RenderedMessage } from './render.js';
import { jsonBytes, splitLines } from './split.js';

/** DingTalk rejects bodies over 20,000 bytes with errcode 460101. */
export const DINGTALK_MAX_BYTES = 20_000;

const link = z
  .string()
  .trim()
  .min(1)
  .refine((s) => URL.canParse(s), { error: 'must be an absolute URL, e.g. https://ci.example.com/run/42' });

const people = z
  .union([z.string().trim().min(1), z.array(z.string().trim().min(1))])
  .transform((v) => (Array.isArray(v) ? v : [v]));

export const SendParamsSchema = z
  .object({
    msgtype: z
      .enum(['text', 'markdown', 'link', 'actionCard'], {
        error: 'must be text, markdown, link or actionCard',
      })
      .default('markdown'),
    text: z
      .string()
      .min(1, { error: 'is empty: give the message, or leave text out to render the event' })
      .optional(),
    title: z.string().trim().min(1, { error: 'is empty: give a title or leave it out' }).optional(),
    messageUrl: link.optional(),
    picUrl: link.optional(),
    atMobiles: people.optional(),
    atUserIds: people.optional(),
    isAtAll: z.boolean().optional(),
    buttons: z
      .array(z.object({ title: z.string().trim().min(1), actionURL: link }).strict())
      .min(1, { error: 'is empty: give at least one {title, actionURL}, or leave buttons out' })
      .optional(),
    singleTitle: z.string().trim().min(1).optional(),
    singleURL: link.optional(),
    btnOrientation: z
      .union([z.enum(['0', '1', 'vertical', 'horizontal']), z.literal(0), z.literal(1)], {
        error: 'must be "vertical" (0) or "horizontal" (1)',
      })
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (p.msgtype === 'link') {
      for (const f of ['atMobiles', 'atUserIds', 'isAtAll'] as const) {
        if (p[f] !== undefined)
          issue(
            f,
            'link messages cannot @mention anyone: remove it, or use msgtype markdown or text to mention people',
          );
      }
    }
    if (p.msgtype !== 'actionCard') {
      for (const f of ['buttons', 'singleTitle', 'singleURL', 'btnOrientation'] as const) {
        if (p[f] !== undefined)
          issue(f, `only actionCard messages have buttons: set msgtype: actionCard or remove ${f}`);
      }
    }
    if (p.msgtype !== 'link') {
      for (const f of ['messageUrl', 'picUrl'] as const) {
        if (p[f] !== undefined) issue(f, `only link messages have ${f}: set msgtype: link or remove ${f}`);
      }
    }
    if ((p.singleTitle === undefined) !== (p.singleURL === undefined)) {
      issue(
        p.singleTitle === undefined ? 'singleTitle' : 'singleURL',
        'singleTitle and singleURL go together: set both or neither',
      );
    }
    if (p.singleTitle !== undefined && p.buttons !== undefined) {
      issue(
        'buttons',
        'use either buttons or singleTitle + singleURL, not both (DingTalk ignores buttons when singleURL is set)',
      );
    }
  });

export type SendParamsInput = z.input<typeof SendParamsSchema>;
export type SendParams = z.output<typeof SendParamsSchema>;

/** A message body as DingTalk's robot/send takes it. */
export type DingTalkMessage =
  | { msgtype: 'text'; text: { content: string }; at?: At }
  | { msgtype: 'markdown'; markdown: { title: string; text: string }; at?: At }
  | { msgtype: 'link'; link: { title: string; text: string; messageUrl: string; picUrl?: string } }
  | {
      msgtype: 'actionCard';
      actionCard: {
        title: string;
        text: string;
        btnOrientation?: '0' | '1';
        singleTitle?: string;
        singleURL?: string;
        btns?: Array<{ title: string; actionURL: string }>;
      };
      at?: At;
    };

export interface At {
  atMobiles?: string[];
  atUserIds?: string[];
  isAtAll?: boolean;
}

export interface ComposeOptions {
  keywords: readonly string[];
  locale: Locale;
  /** The default message for the cause event, when there is one. */
  rendered?: RenderedMessage;
}

/**
 * A message resolved from params and the event: the text that may need splitting, and a function
 * that builds the body for one part (numbering, keyword and @mentions applied).
 */
export interface Plan {
  msgtype: SendParams['msgtype'];
  /** The content that is split when too long (text content, markdown/actionCard text). */
  content: string;
  /** Whether DingTalk can get this message in parts (text and markdown). */
  splittable: boolean;
  build(part: string, index: number, total: number): DingTalkMessage;
}

function noContent(what: string): PermanentError {
  return new PermanentError(
    DingTalkErrorCodes.NO_CONTENT,
    `dingtalk.send has no ${what}: set it in the action's with:, or run the action from a rule so a default message is rendered from the triggering event`,
  );
}

function invalid(message: string): PermanentError {
  return new PermanentError(DingTalkErrorCodes.MESSAGE_INVALID, message);
}

/** Resolves params (and the event's default message) into a plan; throws when something is missing. */
export function plan(params: SendParams, options: ComposeOptions): Plan {
  const r = options.rendered;
  const at = atOf(params);
  const kw = options.keywords;
  switch (params.msgtype) {
    case 'text': {
      const content = params.text ?? r?.plain;
      if (content === undefined) throw noContent('text');
      return {
        msgtype: 'text',
        content,
        splittable: true,
        build(part, i, n) {
          let c = n > 1 ? `(${i + 1}/${n})\n${part}` : part;
          c = withKeyword(c, kw, 'text');
          if (i === n - 1) c = withMentions(c, at, ' ');
          return { msgtype: 'text', text: { content: c }, ...(i === n - 1 && at ? { at } : {}) };
        },
      };
    }
    case 'markdown': {
      const text = params.text ?? r?.markdown;
      if (text === undefined) throw noContent('text');
      const title = params.title ?? (params.text === undefined ? r?.title : undefined) ?? titleFrom(text);
      return {
        msgtype: 'markdown',
        content: text,
        splittable: true,
        build(part, i, n) {
          let t = n > 1 ? `${title} (${i + 1}/${n})` : title;
          let body = n > 1 && i > 0 ? `**(${i + 1}/${n})**\n\n${part}` : part;
          body = withKeyword(body, kw, 'markdown');
          if (i === n - 1) body = withMentions(body, at, '\n\n');
          t = t.length > 0 ? t : titleFrom(body);
          return {
            msgtype: 'markdown',
            markdown: { title: t, text: body },
            ...(i === n - 1 && at ? { at } : {}),
          };
        },
      };
    }
    case 'link': {
      const title = params.title ?? r?.title;
      const text = params.text ?? r?.plain;
      const messageUrl = params.messageUrl ?? r?.url;
      if (title === undefined || text === undefined) throw noContent(title === undefined ? 'title' : 'text');
      if (messageUrl === undefined) {
        throw invalid(
          'link messages need messageUrl (where a click leads); set with.messageUrl, or use msgtype markdown for an event without a URL',
        );
      }
      const linkTitle = hasKeyword([title, text], kw) ? title : `${kw[0]} ${title}`;
      const body = {
        title: linkTitle,
        text,
        messageUrl,
        ...(params.picUrl ? { picUrl: params.picUrl } : {}),
      };
      return {
        msgtype: 'link',
        content: text,
        splittable: false,
        build: () => ({ msgtype: 'link', link: body }),
      };
    }
    case 'actionCard': {
      const text = params.text ?? r?.markdown;
      if (text === undefined) throw noContent('text');
      const title = params.title ?? (params.text === undefined ? r?.title : undefined) ?? titleFrom(text);
      let single: { singleTitle: string; singleURL: string } | undefined;
      if (params.singleTitle !== undefined && params.singleURL !== undefined) {
        single = { singleTitle: params.singleTitle, singleURL: params.singleURL };
      } else if (params.buttons === undefined) {
        if (r?.url === undefined) {
          throw invalid(
            'actionCard messages need a button: set with.buttons [{title, actionURL}] or with.singleTitle + with.singleURL',
          );
        }
        single = { singleTitle: detailsLabel(options.locale), singleURL: r.url };
      }
      const orientation = params.btnOrientation;
      const btnOrientation =
        orientation === undefined
          ? undefined
          : orientation === 1 || orientation === '1' || orientation === 'horizontal'
            ? '1'
            : '0';
      return {
        msgtype: 'actionCard',
        content: text,
        splittable: false,
        build(part) {
          const body = withMentions(withKeyword(part, kw, 'markdown'), at, '\n\n');
          return {
            msgtype: 'actionCard',
            actionCard: {
              title,
              text: body,
              ...(btnOrientation ? { btnOrientation } : {}),
              ...(single ?? {
                btns: params.buttons!.map((b) => ({ title: b.title, actionURL: b.actionURL })),
              }),
            },
            ...(at ? { at } : {}),
          };
        },
      };
    }
  }
}

/**
 * The message as parts that each fit in `maxBytes`: one part when it fits, else text and markdown
 * are split at line boundaries into numbered parts. Other types that do not fit are an error.
 */
export function splitPlan(p: Plan, maxBytes: number = DINGTALK_MAX_BYTES): string[] {
  const whole = p.build(p.content, 0, 1);
  if (bodyBytes(whole) <= maxBytes) return [p.content];
  if (!p.splittable) {
    throw new PermanentError(
      DingTalkErrorCodes.TOO_LONG,
      `the ${p.msgtype} message is ${bodyBytes(whole)} bytes, over DingTalk's ${maxBytes}; only text and markdown messages are split: shorten the text or use msgtype markdown`,
    );
  }
  // Room for the decorations of the worst part (numbering up to 999/999, keyword, mentions).
  const overhead = Math.max(bodyBytes(p.build('', 998, 999)), bodyBytes(p.build('', 0, 999)));
  const budget = maxBytes - overhead;
  if (budget < 200) {
    throw invalid(
      `the message's fixed parts (title, keyword, @mentions) leave no room for text within DingTalk's ${maxBytes} bytes: shorten the title or mention fewer people`,
    );
  }
  return splitLines(p.content, budget);
}

export function bodyBytes(message: DingTalkMessage): number {
  return Buffer.byteLength(JSON.stringify(message), 'utf8');
}

/** Every text field DingTalk matches custom keywords against. */
export function messageTexts(message: DingTalkMessage): string[] {
  switch (message.msgtype) {
    case 'text':
      return [message.text.content];
    case 'markdown':
      return [message.markdown.title, message.markdown.text];
    case 'link':
      return [message.link.title, message.link.text];
    case 'actionCard':
      return [
        message.actionCard.title,
        message.actionCard.text,
        ...(message.actionCard.btns ?? []).map((b) => b.title),
        ...(message.actionCard.singleTitle ? [message.actionCard.singleTitle] : []),
      ];
  }
}

function atOf(p: SendParams): At | undefined {
  const at: At = {};
  if (p.atMobiles?.length) at.atMobiles = [...new Set(p.atMobiles)];
  if (p.atUserIds?.length) at.atUserIds = [...new Set(p.atUserIds)];
  if (p.isAtAll) at.isAtAll = true;
  return Object.keys(at).length > 0 ? at : undefined;
}

/** DingTalk renders an @mention only when `@<mobile>`/`@<userId>` also appears in the content. */
function withMentions(content: string, at: At | undefined, separator: string): string {
  if (!at) return content;
  const missing = [...(at.atMobiles ?? []), ...(at.atUserIds ?? [])]
    .filter((who) => !mentions(content, who))
    .map((who) => `@${who}`);
  return missing.length > 0 ? `${content}${separator}${missing.join(' ')}` : content;
}

function mentions(content: string, who: string): boolean {
  const re = new RegExp(`@${who.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z_])`);
  return re.test(content);
}

function hasKeyword(texts: readonly string[], keywords: readonly string[]): boolean {
  return keywords.length === 0 || keywords.some((k) => texts.some((t) => t.includes(k)));
}

/** Adds the first keyword to the first line when none is present (inside a markdown heading). */
function withKeyword(content: string, keywords: readonly string[], kind: 'text' | 'markdown'): string {
  if (hasKeyword([content], keywords)) return content;
  const keyword = keywords[0]!;
  if (kind === 'markdown') {
    const heading = /^(#{1,6} )/.exec(content);
    if (heading) return `${heading[1]}${keyword} ${content.slice(heading[1]!.length)}`;
  }
  return `${keyword} ${content}`;
}

/** A title from the first non-empty line of markdown, without its markup. */
function titleFrom(text: string): string {
  const line = text
    .split('\n')
    .map((l) =>
      l
        .replace(/^#{1,6}\s+|[*_`>]/g, '')
        .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
        .trim(),
    )
    .find((l) => l.length > 0);
  const title = line ?? 'Switchyard';
  return [...title].length > 64 ? `${[...title].slice(0, 63).join('')}…` : title;
}

export { jsonBytes };
