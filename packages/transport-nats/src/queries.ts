import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { compareEvents, type EventQuery, type SwitchyardEvent, selectTrace } from '@switchyard/core';
import { NatsErrorCodes, natsRetryable } from './errors.js';
import { encodeToken, type Names } from './names.js';
import { scan } from './streams.js';

/** Header on a dead letter put back on the events stream for one subscription only. */
export const REPLAY_HEADER = 'Switchyard-Replay-For';

/** Events read back with `since` start this much earlier in the stream (sender clocks differ). */
const TIME_SLACK_MS = 60_000;

/**
 * Reads of the events stream. Two indexes live in the `<stream>_INDEX` KV bucket, written by
 * append: `id.<id>` → stream sequence, and `corr.<correlationid>.<id>` → stream sequence for events
 * caused by another (a chain's root is found through its id, which is the correlation id). Get and
 * trace are then a few direct gets (O(chain)); type, subject and time queries scan the stream
 * through an ephemeral consumer (filtered by the type's subject and started at `since`).
 */
export class EventReader {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: Names,
    private readonly index: KV,
  ) {}

  /** Writes both index entries of a stored event; idempotent. */
  async indexEvent(event: SwitchyardEvent, seq: number): Promise<void> {
    const value = String(seq);
    const id = encodeToken(event.id);
    const root = event.correlationid === event.id;
    await Promise.all([
      this.index.put(`id.${id}`, value),
      root ? undefined : this.index.put(`corr.${encodeToken(event.correlationid)}.${id}`, value),
    ]);
  }

  async bySeq(seq: number): Promise<SwitchyardEvent | undefined> {
    let msg: StoredMsg | null;
    try {
      msg = await this.jsm.direct.getMessage(this.names.stream, { seq });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw natsRetryable(
        NatsErrorCodes.STORE_FAILED,
        `cannot read message ${seq} of stream ${this.names.stream}`,
        error,
      );
    }
    return msg ? msg.json<SwitchyardEvent>() : undefined;
  }

  async get(id: string): Promise<SwitchyardEvent | undefined> {
    const seq = await this.seqOf(id);
    if (seq === undefined) return undefined;
    const event = await this.bySeq(seq);
    return event?.id === id ? event : undefined;
  }

  private async seqOf(id: string): Promise<number | undefined> {
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await this.index.get(`id.${encodeToken(id)}`);
    } catch (error) {
      throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot read the id index for ${id}`, error);
    }
    return entry?.operation === 'PUT' ? Number(entry.string()) : undefined;
  }

  /** Every event of one correlation chain, oldest first. */
  async chain(correlationId: string): Promise<SwitchyardEvent[]> {
    const seqs: number[] = [];
    const root = await this.seqOf(correlationId);
    if (root !== undefined) seqs.push(root);
    await scan(
      this.js,
      this.jsm,
      `KV_${this.names.indexBucket}`,
      { filter: `$KV.${this.names.indexBucket}.corr.${encodeToken(correlationId)}.*`, lastPerSubject: true },
      (msg) => {
        if (msg.data.length > 0) seqs.push(Number(new TextDecoder().decode(msg.data)));
      },
    );
    const events: SwitchyardEvent[] = [];
    const unique = [...new Set(seqs)];
    for (let i = 0; i < unique.length; i += 64) {
      const batch = await Promise.all(unique.slice(i, i + 64).map((s) => this.bySeq(s)));
      for (const e of batch) if (e) events.push(e);
    }
    return events.sort(compareEvents);
  }

  async trace(id: string): Promise<SwitchyardEvent[] | undefined> {
    const event = await this.get(id);
    if (!event) return undefined;
    const chain = await this.chain(event.correlationid);
    if (!chain.some((e) => e.id === event.id)) chain.push(event);
    return selectTrace(chain, id);
  }

  async query(filter: EventQuery): Promise<SwitchyardEvent[]> {
    const limit = filter.limit ?? 100;
    const since = toTime(filter.since);
    const until = toTime(filter.until);
    const matches = (e: SwitchyardEvent) =>
      (filter.type === undefined || e.type === filter.type) &&
      (filter.subject === undefined || e.subject === filter.subject) &&
      (filter.correlationId === undefined || e.correlationid === filter.correlationId) &&
      (since === undefined || Date.parse(e.time) >= since) &&
      (until === undefined || Date.parse(e.time) <= until);
    let out: SwitchyardEvent[];
    if (filter.correlationId !== undefined) {
      out = (await this.chain(filter.correlationId)).filter(matches);
    } else {
      out = [];
      await scan(
        this.js,
        this.jsm,
        this.names.stream,
        {
          filter:
            filter.type === undefined ? this.names.eventsWildcard : this.names.eventSubject(filter.type),
          ...(since === undefined ? {} : { startTime: new Date(since - TIME_SLACK_MS) }),
        },
        (msg) => {
          if (msg.headers?.has(REPLAY_HEADER)) return;
          const event = msg.json<SwitchyardEvent>();
          if (!matches(event)) return;
          out.push(event);
          if (filter.newestFirst) {
            // Keep a window of the newest matches; the stream is in arrival order.
            if (out.length > limit * 2 + 100) out.splice(0, out.length - limit - 50);
            return;
          }
          // Oldest first: a little past the limit, to absorb arrival vs. event-time skew.
          return out.length < limit + 50;
        },
      );
      out.sort(compareEvents);
    }
    if (filter.newestFirst) out.reverse();
    return out.slice(0, limit);
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { code?: unknown; status?: unknown; message?: unknown };
  return e?.code === 404 || e?.status === 404 || /no message found|not found/i.test(String(e?.message));
}

function toTime(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : Date.parse(value);
}
