import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { ConsumerSpec } from '@switchyard/core';
import { NatsErrorCodes, natsPermanent, natsRetryable } from './errors.js';
import type { Names } from './names.js';

export interface StreamSettings {
  replicas: number;
  duplicateWindowMs: number;
  /** 0 = keep forever. */
  maxAgeMs: number;
}

/** Creates the events and dead-letter streams, or checks that existing ones fit. */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: Names,
  settings: StreamSettings,
): Promise<void> {
  await ensureStream(jsm, {
    name: names.stream,
    subjects: [names.eventsWildcard],
    description: 'Switchyard events (subject <prefix>.events.<type>.<correlation>.<id>)',
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: settings.replicas,
    duplicate_window: nanos(settings.duplicateWindowMs),
    max_age: nanos(settings.maxAgeMs),
    allow_direct: true,
  });
  await ensureStream(jsm, {
    name: names.dlqStream,
    subjects: [names.dlqWildcard],
    description: 'Switchyard dead letters (kept until replayed or dropped)',
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: settings.replicas,
    duplicate_window: nanos(Math.min(settings.duplicateWindowMs, 120_000)),
    allow_direct: true,
  });
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  let existing: StreamConfig | undefined;
  try {
    existing = (await jsm.streams.info(config.name)).config;
  } catch (error) {
    if (!isNotFound(error)) {
      throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot read stream ${config.name}`, error);
    }
  }
  if (existing) {
    const missing = (config.subjects ?? []).filter((s) => !existing.subjects?.includes(s));
    if (missing.length > 0) {
      throw natsPermanent(
        NatsErrorCodes.STREAM_CONFLICT,
        `stream ${config.name} exists with subjects ${JSON.stringify(existing.subjects)} but Switchyard needs ${missing.join(', ')}: choose another store.stream, or delete the stream (nats stream rm ${config.name})`,
      );
    }
    return;
  }
  try {
    await jsm.streams.add(config);
  } catch (error) {
    // Another runner may have created it at the same moment.
    try {
      await jsm.streams.info(config.name);
    } catch {
      throw natsPermanent(
        NatsErrorCodes.STREAM_CONFLICT,
        `cannot create stream ${config.name} (its subjects may overlap another stream's: choose another store.stream)`,
        error,
      );
    }
  }
}

export interface DurableSettings {
  ackWaitMs: number;
  maxAckPending: number;
  /** Server supports several filter subjects per consumer (2.10+). */
  multiFilter: boolean;
}

export interface DurableBinding {
  name: string;
  /** Types to keep client-side when the consumer's filter is wider than the subscription. */
  clientTypes?: ReadonlySet<string>;
}

/**
 * Creates the durable pull consumer of a subscription (DeliverPolicy.New: it starts at events
 * appended after its creation), or resumes the existing one, updating what may change.
 */
export async function ensureDurable(
  jsm: JetStreamManager,
  names: Names,
  spec: ConsumerSpec,
  settings: DurableSettings,
): Promise<DurableBinding> {
  const name = names.durable(spec.id);
  const all = spec.types.includes('*');
  const types = [...new Set(spec.types)];
  const filter: Partial<ConsumerConfig> = {};
  let clientTypes: Set<string> | undefined;
  if (all) filter.filter_subject = names.eventsWildcard;
  else if (types.length === 1) filter.filter_subject = names.typeFilter(types[0]!);
  else if (settings.multiFilter) filter.filter_subjects = types.map((t) => names.typeFilter(t));
  else {
    // nats-server < 2.10 has one filter subject per consumer: take all events, skip others here.
    filter.filter_subject = names.eventsWildcard;
    clientTypes = new Set(types);
  }
  const config: Partial<ConsumerConfig> = {
    durable_name: name,
    description: `Switchyard subscription ${spec.id}`,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: settings.maxAckPending,
    ...filter,
  };
  const binding: DurableBinding = clientTypes ? { name, clientTypes } : { name };
  let info: ConsumerInfo | undefined;
  try {
    info = await jsm.consumers.info(names.stream, name);
  } catch (error) {
    if (!isNotFound(error)) {
      throw natsRetryable(
        NatsErrorCodes.STORE_FAILED,
        `cannot read consumer ${name} of stream ${names.stream}`,
        error,
      );
    }
  }
  if (!info) {
    try {
      await jsm.consumers.add(names.stream, config);
      return binding;
    } catch (error) {
      // Another runner created it first with the same settings: resume it below.
      try {
        info = await jsm.consumers.info(names.stream, name);
      } catch {
        throw natsRetryable(
          NatsErrorCodes.STORE_FAILED,
          `cannot create consumer ${name} on stream ${names.stream}`,
          error,
        );
      }
    }
  }
  const current = info.config;
  const sameFilter =
    (current.filter_subject ?? '') === (config.filter_subject ?? '') &&
    JSON.stringify([...(current.filter_subjects ?? [])].sort()) ===
      JSON.stringify([...(config.filter_subjects ?? [])].sort());
  const sameLimits =
    current.ack_wait === config.ack_wait && current.max_ack_pending === config.max_ack_pending;
  if (sameFilter && sameLimits) return binding;
  try {
    await jsm.consumers.update(names.stream, name, {
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
      ...(sameFilter ? {} : filter),
    });
  } catch (error) {
    throw natsPermanent(
      NatsErrorCodes.CONSUMER_CONFLICT,
      `consumer ${name} of stream ${names.stream} exists with other event types than subscription "${spec.id}" now has, and this server cannot change them: delete it (nats consumer rm ${names.stream} ${name}); it restarts at new events`,
      error,
    );
  }
  return binding;
}

export interface ScanOptions {
  filter: string;
  /** Start at the first message stored at or after this time. */
  startTime?: Date;
  /** Only the last message of each subject (a KV bucket's current values). */
  lastPerSubject?: boolean;
}

/**
 * Reads the messages of a stream matching `filter`, oldest first, through a short-lived ephemeral
 * consumer (memory storage, no acks). `visit` returns false to stop early. Messages appended while
 * scanning may or may not be seen.
 */
export async function scan(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  options: ScanOptions,
  visit: (msg: JsMsg) => boolean | undefined,
): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.None,
    filter_subject: options.filter,
    inactive_threshold: nanos(30_000),
    mem_storage: true,
    num_replicas: 1,
    deliver_policy: options.lastPerSubject
      ? DeliverPolicy.LastPerSubject
      : options.startTime
        ? DeliverPolicy.StartTime
        : DeliverPolicy.All,
  };
  if (options.startTime && !options.lastPerSubject) config.opt_start_time = options.startTime.toISOString();
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.add(stream, config);
  } catch (error) {
    throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot read stream ${stream}`, error);
  }
  try {
    let remaining = info.num_pending;
    if (remaining === 0) return;
    const consumer = await js.consumers.get(stream, info.name);
    while (remaining > 0) {
      const batch = await consumer.fetch({ max_messages: Math.min(remaining, 1_000), expires: 2_000 });
      let got = 0;
      try {
        for await (const msg of batch) {
          got++;
          remaining--;
          if (visit(msg) === false) return;
          if (msg.info.pending === 0) remaining = 0;
          if (remaining === 0) break;
        }
      } finally {
        batch.stop();
      }
      if (got === 0) break; // the rest was deleted meanwhile
    }
  } catch (error) {
    throw natsRetryable(NatsErrorCodes.STORE_FAILED, `cannot read stream ${stream}`, error);
  } finally {
    jsm.consumers.delete(stream, info.name).catch(() => {});
  }
}

export function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === 10014 || error.code === 10059 || error.code === 10037 || error.status === 404)
  );
}

export function isWrongLastSequence(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === 10071 || error.code === 10164 || /wrong last sequence/i.test(error.message))
  );
}

/**
 * The subjects (below `$KV.<bucket>.`) a KV bucket holds under `filter`, deleted keys' markers
 * included: one stream-info request, a snapshot. The KV client's own keys() runs a consumer that
 * ends only at a 5 s idle heartbeat while the bucket is busy and names a key again for every write
 * during the listing.
 */
export async function kvSubjects(jsm: JetStreamManager, bucket: string, filter: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: prefix + filter });
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
}
