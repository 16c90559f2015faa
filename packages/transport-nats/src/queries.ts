import type { DirectMsgRequest, JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { compareEvents, type EventQuery, type SwitchyardEvent, selectTrace } from '@switchyard/core';
import { NatsErrorCodes, natsRetryable } from './errors.js';
import type { Names } from './names.js';
import { scan } from './streams.js';

/** Header on a dead letter put back on the events stream for one subscription only. */
export const REPLAY_HEADER = 'Switchyard-Replay-For';

/** Events read back with `since` start this much earlier in the stream (sender clocks differ). */
const TIME_SLACK_MS = 60_000;

/**
 * Reads of the events stream. An event's subject is `<prefix>.events.<type>.<correlation>.<id>`,
 * so `get` is one direct get of the last message on `<prefix>.events.*.*.<id>`, and a correlation
 * chain (its root's correlation is its own id) is the last message of each subject matching
 * `<prefix>.events.*.<correlation>.*`, read through an ephemeral consumer. Type, subject and time
 * queries scan the stream (filtered by the type's subjects and started at `since`).
 */
export class EventReader {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: Names,
  ) {}

  bySeq(seq: number): Promise<SwitchyardEvent | undefined> {
    return this.#direct({ seq }, `message ${seq}`);
  }

  async get(id: string): Promise<SwitchyardEvent | undefined> {
    const event = await this.#direct({ last_by_subj: this.names.idFilter(id) }, `event ${id}`);
    return event?.id === id ? event : undefined;
  }

  async #direct(query: DirectMsgRequest, what: string): Promise<SwitchyardEvent | undefined> {
    let msg: StoredMsg | null;
    try {
      msg = await this.jsm.direct.getMessage(this.names.stream, query);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw natsRetryable(
        NatsErrorCodes.STORE_FAILED,
        `cannot read ${what} of stream ${this.names.stream}`,
        error,
      );
    }
    return msg ? msg.json<SwitchyardEvent>() : undefined;
  }

  /** Every event of one correlation chain, oldest first. */
  async chain(correlationId: string): Promise<SwitchyardEvent[]> {
    const byId = new Map<string, SwitchyardEvent>();
    await scan(
      this.js,
      this.jsm,
      this.names.stream,
      // One subject per event: its last message is the event (or a replayed copy of it).
      { filter: this.names.chainFilter(correlationId), lastPerSubject: true },
      (msg) => {
        const event = msg.json<SwitchyardEvent>();
        byId.set(event.id, event);
      },
    );
    return [...byId.values()].sort(compareEvents);
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
          filter: filter.type === undefined ? this.names.eventsWildcard : this.names.typeFilter(filter.type),
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
