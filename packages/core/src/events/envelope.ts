import { z } from 'zod';
import { ErrorCodes, PermanentError } from '../errors.js';
import { uuidv7 } from '../uuidv7.js';

/**
 * Data of every event type, keyed by type. Plugins add their types by declaration merging:
 *
 * ```ts
 * declare module '@switchyard/core' {
 *   interface EventMap { BuildQueued: { queue: string } }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface EventMap {}

export type EventType = keyof EventMap & string;

/** The CloudEvents 1.0 envelope (structured JSON mode) with Switchyard's causality extensions. */
export interface SwitchyardEvent<T extends string = string, D = unknown> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: T;
  readonly time: string;
  readonly subject?: string;
  readonly datacontenttype: string;
  /** Id of the first event of the causal chain (its own id for a root event). */
  readonly correlationid: string;
  /** Id of the event that caused this one; absent on a root event. */
  readonly causationid?: string;
  readonly data: D;
}

/** An event of a type known to the event map, with its typed data. */
export type EventOf<K extends EventType> = SwitchyardEvent<K, EventMap[K]>;

/** Any event whose type is in the event map, as a discriminated union. */
export type AnyKnownEvent = { [K in EventType]: EventOf<K> }[EventType];

export interface EnvelopeInput {
  type: string;
  data: unknown;
  id?: string;
  source?: string;
  subject?: string;
  time?: string;
  correlationid?: string;
  causationid?: string;
  /** Sets correlationid and causationid from the causing event. */
  cause?: Pick<SwitchyardEvent, 'id' | 'correlationid'>;
}

/** Creates a frozen envelope. Data is frozen deeply so a handler cannot change what others see. */
export function createEnvelope(input: EnvelopeInput, now: number = Date.now()): SwitchyardEvent {
  const id = input.id ?? uuidv7(now);
  const causationid = input.cause?.id ?? input.causationid;
  const correlationid = input.cause?.correlationid ?? input.correlationid ?? causationid ?? id;
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id,
    source: input.source ?? 'switchyard',
    type: input.type,
    time: input.time ?? isoTime(now),
    datacontenttype: 'application/json',
    correlationid,
    data: input.data,
  };
  if (input.subject !== undefined) event.subject = input.subject;
  if (causationid !== undefined) event.causationid = causationid;
  return deepFreeze(event) as unknown as SwitchyardEvent;
}

// Formatting a Date is a measurable share of creating an event; events of one millisecond share it.
let lastMs = Number.NaN;
let lastIso = '';
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const RESERVED = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
  'correlationid',
  'causationid',
]);

const nonEmpty = (what: string) =>
  z.string({ error: `${what} must be a string` }).min(1, `${what} must not be empty`);

export const envelopeSchema = z
  .object({
    specversion: z.literal('1.0', { error: 'specversion must be "1.0"' }),
    id: nonEmpty('id').max(200),
    source: nonEmpty('source').max(500),
    type: nonEmpty('type').max(200),
    time: z.iso.datetime({ offset: true, error: 'time must be an RFC 3339 timestamp' }).optional(),
    subject: z.string().max(500).optional(),
    datacontenttype: z.string().optional(),
    dataschema: z.string().optional(),
    correlationid: z.string().min(1).max(200).optional(),
    causationid: z.string().min(1).max(200).optional(),
    data: z.unknown(),
  })
  .catchall(z.union([z.string(), z.number(), z.boolean()]));

/**
 * Problems zod cannot report while other fields fail (refinements run only on valid objects):
 * extension attribute names and a non-JSON datacontenttype.
 */
export function envelopeAttributeIssues(raw: unknown): FieldIssue[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return [];
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(raw)) {
    if (!RESERVED.has(key) && !EXTENSION_NAME.test(key)) {
      issues.push({
        path: key,
        message: 'extension attribute names are 1-20 lowercase letters or digits (CloudEvents 1.0)',
      });
    }
  }
  const contentType = (raw as { datacontenttype?: unknown }).datacontenttype;
  if (typeof contentType === 'string' && !/^application\/(.+\+)?json\b/.test(contentType)) {
    issues.push({ path: 'datacontenttype', message: 'only JSON data is accepted (application/json)' });
  }
  return issues;
}

/** Field-level problems in the form every boundary reports them. */
export interface FieldIssue {
  path: string;
  message: string;
}

export function zodIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return { path: path || '(root)', message: issue.message };
  });
}

export class EventValidationError extends PermanentError {
  readonly issues: FieldIssue[];
  constructor(what: string, issues: FieldIssue[]) {
    super(
      ErrorCodes.EVENT_INVALID,
      `${what} is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      {
        details: { issues },
      },
    );
    this.name = 'EventValidationError';
    this.issues = issues;
  }
}
