import { NatsErrorCodes, natsPermanent } from './errors.js';

/**
 * Encodes any string as one NATS subject token / KV key token: `[A-Za-z0-9_-]` stay as they are,
 * every other byte becomes `=HH` (upper-case hex of its UTF-8 bytes). Reversible, dot-free, and
 * valid in subjects, KV keys and consumer names.
 */
export function encodeToken(value: string): string {
  if (value.length === 0) return '=';
  // Type names and generated ids need no escaping: skip the byte loop (it runs for every event).
  if (SAFE.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const SAFE = /^[A-Za-z0-9_-]+$/;

export function decodeToken(token: string): string {
  if (token === '=') return '';
  if (!token.includes('=')) return token;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

export const DEFAULT_STREAM = 'SWITCHYARD_EVENTS';

/** Every stream, bucket and subject name one transport uses, derived from the stream name. */
export class Names {
  readonly stream: string;
  readonly prefix: string;
  readonly dlqStream: string;
  readonly deliveriesBucket: string;
  readonly idempotencyBucket: string;
  readonly kvBucket: string;

  constructor(stream = DEFAULT_STREAM, prefix?: string) {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(stream)) {
      throw natsPermanent(
        NatsErrorCodes.CONFIG_INVALID,
        `store.stream "${stream}" is not a valid JetStream stream name: use letters, digits, "_" and "-" only`,
      );
    }
    const p = prefix ?? (stream === DEFAULT_STREAM ? 'switchyard' : stream);
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(p)) {
      throw natsPermanent(
        NatsErrorCodes.CONFIG_INVALID,
        `subject prefix "${p}" is not a valid NATS subject: use dot-separated tokens of letters, digits, "_" and "-"`,
      );
    }
    this.stream = stream;
    this.prefix = p;
    this.dlqStream = `${stream}_DLQ`;
    this.deliveriesBucket = `${stream}_DELIVERIES`;
    this.idempotencyBucket = `${stream}_IDEMPOTENCY`;
    this.kvBucket = `${stream}_KV`;
  }

  /** `<prefix>.events.>`: the events stream's subjects. */
  get eventsWildcard(): string {
    return `${this.prefix}.events.>`;
  }

  /**
   * `<prefix>.events.<type>.<correlation id>.<id>`: the event is found by its id, its type and its
   * correlation chain from the subject alone, so nothing but the event is written on append.
   */
  eventSubject(event: { type: string; correlationid: string; id: string }): string {
    return `${this.prefix}.events.${encodeToken(event.type)}.${encodeToken(event.correlationid)}.${encodeToken(event.id)}`;
  }

  /** `<prefix>.events.<type>.>`: every event of one type. */
  typeFilter(type: string): string {
    return `${this.prefix}.events.${encodeToken(type)}.>`;
  }

  /** `<prefix>.events.*.*.<id>`: the event with this id. */
  idFilter(id: string): string {
    return `${this.prefix}.events.*.*.${encodeToken(id)}`;
  }

  /** `<prefix>.events.*.<correlation id>.*`: every event of one correlation chain, its root included. */
  chainFilter(correlationId: string): string {
    return `${this.prefix}.events.*.${encodeToken(correlationId)}.*`;
  }

  /** The event type of a subject of the events stream. */
  typeOfSubject(subject: string): string {
    const start = this.prefix.length + '.events.'.length;
    const end = subject.indexOf('.', start);
    return decodeToken(end === -1 ? subject.slice(start) : subject.slice(start, end));
  }

  /** `<prefix>.dlq.<subscription>.<type>`, either part may be `*`. */
  dlqSubject(subscription?: string, type?: string): string {
    const sub = subscription === undefined ? '*' : encodeToken(subscription);
    const t = type === undefined ? '*' : encodeToken(type);
    return `${this.prefix}.dlq.${sub}.${t}`;
  }

  get dlqWildcard(): string {
    return `${this.prefix}.dlq.>`;
  }

  /** Durable consumer name of a subscription. */
  durable(subscription: string): string {
    return encodeToken(subscription);
  }
}
