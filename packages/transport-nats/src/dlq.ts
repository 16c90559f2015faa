import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { DeadLetter, DeadLetterFilter, DeliveryRecord } from '@switchyard/core';
import { NatsErrorCodes, natsRetryable } from './errors.js';
import type { DeliveryRecords } from './kv.js';
import type { Names } from './names.js';
import { REPLAY_HEADER } from './queries.js';
import { scan } from './streams.js';

type Stored = Omit<DeadLetter, 'id'>;

/**
 * Dead letters live in the `<stream>_DLQ` stream, subject `<prefix>.dlq.<subscription>.<type>`,
 * body `{ subscription, event, attempts, lastError, deadAt }`. A dead letter's id is its sequence
 * in that stream. Replay republishes the event on its own events subject with a
 * `Switchyard-Replay-For: <subscription>` header (only that subscription handles it, from attempt 1)
 * and deletes the dead letter; drop deletes it.
 */
export class DeadLetterStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: Names,
    private readonly records: DeliveryRecords,
    private readonly now: () => number,
  ) {}

  /** Stores a dead letter; `dedupeId` keeps a retried store from creating two. */
  async add(dead: Stored, dedupeId: string): Promise<void> {
    try {
      await this.js.publish(this.names.dlqSubject(dead.subscription, dead.event.type), JSON.stringify(dead), {
        msgID: dedupeId,
      });
    } catch (error) {
      throw natsRetryable(
        NatsErrorCodes.PUBLISH_FAILED,
        `cannot store the dead letter of ${dead.event.id} for subscription "${dead.subscription}" in stream ${this.names.dlqStream}`,
        error,
      );
    }
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const matches = (d: DeadLetter) =>
      (filter.subscription === undefined || d.subscription === filter.subscription) &&
      (filter.type === undefined || d.event.type === filter.type);
    if (filter.id !== undefined) {
      const one = await this.byId(filter.id);
      return one && matches(one) ? [one] : [];
    }
    const out: DeadLetter[] = [];
    await scan(
      this.js,
      this.jsm,
      this.names.dlqStream,
      { filter: this.names.dlqSubject(filter.subscription, filter.type) },
      (msg) => {
        const d = { id: String(msg.seq), ...msg.json<Stored>() };
        if (matches(d)) out.push(d);
        return filter.limit === undefined || out.length < filter.limit;
      },
    );
    return out;
  }

  async replay(filter: DeadLetterFilter): Promise<number> {
    const list = await this.list(filter);
    for (const dead of list) {
      const h = headers();
      h.set(REPLAY_HEADER, dead.subscription);
      try {
        await this.js.publish(this.names.eventSubject(dead.event), JSON.stringify(dead.event), {
          headers: h,
          msgID: `replay:${this.names.dlqStream}:${dead.id}`,
        });
      } catch (error) {
        throw natsRetryable(NatsErrorCodes.PUBLISH_FAILED, `cannot replay dead letter ${dead.id}`, error);
      }
      const record: DeliveryRecord = {
        eventId: dead.event.id,
        subscription: dead.subscription,
        status: 'pending',
        attempts: 0,
        updatedAt: new Date(this.now()).toISOString(),
      };
      await this.records.put(record);
      await this.delete(dead.id);
    }
    return list.length;
  }

  async drop(filter: DeadLetterFilter): Promise<number> {
    const list = await this.list(filter);
    for (const dead of list) await this.delete(dead.id);
    return list.length;
  }

  private async byId(id: string): Promise<DeadLetter | undefined> {
    const seq = Number(id);
    if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
    try {
      const msg = await this.jsm.direct.getMessage(this.names.dlqStream, { seq });
      return msg ? { id, ...msg.json<Stored>() } : undefined;
    } catch (error) {
      if (/not found|no message/i.test(String((error as Error).message))) return undefined;
      throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot read dead letter ${id}`, error);
    }
  }

  private async delete(id: string): Promise<void> {
    try {
      await this.jsm.streams.deleteMessage(this.names.dlqStream, Number(id), false);
    } catch (error) {
      if (/not found|no message/i.test(String((error as Error).message))) return;
      throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot delete dead letter ${id}`, error);
    }
  }
}
