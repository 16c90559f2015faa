import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { type Clock, type KeyValueStore, RetryableError, uuidv7 } from '@switchyard/core';
import { PipelineErrorCodes as Codes } from './errors.js';

// Who runs what, when several runners share one store (a JetStream KV bucket on NATS; the same code
// runs on a single runner's own store). Two kinds of records, every change a compare-and-set:
//
// `runners` — one record listing every runner with its lease: `expiresAt`, renewed by the runner's
//   heartbeat every third of the lease. A runner whose lease ran out (crashed, cut off from the store,
//   or stopped: an orderly stop ends the lease at once) owns nothing any more. Other runners leave
//   requests for a runner in its entry (`cancel`: runs to cancel for `concurrency: replace`); the
//   owner's heartbeat picks them up. One record rather than one per runner: a heartbeat is one read
//   and one write, and every runner sees every lease in that read.
//
// `slot/<pipeline>[/<issue>]` — one per pipeline and issue: the `holder` (runner and run) and the
//   `queue` of run ids waiting behind it, oldest first. A run executes only while its runner holds
//   its slot, so runs of one pipeline and issue never overlap, whichever runner took the trigger.
//   Invariant: a slot with a queue has a holder (whoever queues into a free slot takes it), so a
//   queue is never left without someone to run it; a dead holder's slots are taken over by a live
//   runner, which ends the run it held as interrupted and goes on with the queue.
//
// Lease times are on the injected clock; runners compare each other's `expiresAt` with their own
// clock, so their clocks must agree to well within the lease (NTP). One shortcut: a lease taken by a
// process of this very machine and PID namespace (same boot id and namespace, Linux) whose PID no
// longer exists is over at once — a runner restarted after a crash ends its runs straight away, as
// a single runner always did, instead of waiting for the lease. A reused PID only means waiting.

export interface CancelRequest {
  reason: string;
  /** When it was asked; dropped after a lease if the run never showed up on its runner. */
  at: number;
}

export interface RunnerLease {
  host: string;
  pid: number;
  /** Boot id and PID namespace (Linux): where `pid` means something. */
  machine?: string;
  startedAt: string;
  expiresAt: number;
  /** Ended by an orderly stop (its runs are taken over at once). */
  stopped?: boolean;
  cancel?: Record<string, CancelRequest>;
}

export interface Registry {
  runners: Record<string, RunnerLease>;
}

export interface SlotHolder {
  runner: string;
  runId: string;
  since: string;
}

export interface SlotRecord {
  holder?: SlotHolder;
  queue: string[];
}

export interface Slot {
  key: string;
  value: SlotRecord;
  revision: number;
}

export interface Renewal {
  /** This runner's lease had run out or was gone: it owns nothing any more. */
  lost: boolean;
  /** Cancel requests for runs active here (removed from the record by this renewal). */
  cancels: Array<{ runId: string; reason: string }>;
  /** Other runners whose lease ran out. */
  expired: string[];
  /** Runners whose lease holds now (this one included unless lost). */
  live: Set<string>;
}

const REGISTRY = 'runners';
const SLOT = 'slot/';
/** Compare-and-set attempts before giving up (each conflict means another runner just wrote). */
const ATTEMPTS = 64;

export class Leases {
  #id = '';
  #expiresAt = 0;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly clock: Clock,
    readonly ttlMs: number,
  ) {}

  /** This runner's id in the current lease (a new one after a lost lease). */
  get id(): string {
    return this.#id;
  }

  /** When this runner's lease runs out, as last renewed. */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /** Takes a lease under a new runner id. */
  async register(): Promise<void> {
    const id = `${hostname()}-${process.pid}-${uuidv7().slice(-8)}`;
    const now = this.clock.now();
    const expiresAt = now + this.ttlMs;
    await this.#update<Registry, void>(REGISTRY, (registry = { runners: {} }) => {
      registry.runners[id] = {
        host: hostname(),
        pid: process.pid,
        ...(MACHINE ? { machine: MACHINE } : {}),
        startedAt: new Date(now).toISOString(),
        expiresAt,
      };
      return { value: registry, result: undefined };
    });
    this.#id = id;
    this.#expiresAt = expiresAt;
  }

  /** The heartbeat: extends this runner's lease and collects requests left for it. */
  async renew(isActive: (runId: string) => boolean): Promise<Renewal> {
    const now = this.clock.now();
    const expiresAt = now + this.ttlMs;
    const renewal = await this.#update<Registry, Renewal>(REGISTRY, (registry = { runners: {} }) => {
      const out: Renewal = { lost: false, cancels: [], expired: [], live: new Set() };
      for (const [id, lease] of Object.entries(registry.runners)) {
        if (id === this.#id) continue;
        if (expired(lease, now)) out.expired.push(id);
        else out.live.add(id);
      }
      const mine = registry.runners[this.#id];
      if (!mine || expired(mine, now)) return { result: { ...out, lost: true } };
      mine.expiresAt = expiresAt;
      for (const [runId, request] of Object.entries(mine.cancel ?? {})) {
        if (isActive(runId)) out.cancels.push({ runId, reason: request.reason });
        if (isActive(runId) || request.at + this.ttlMs <= now) delete mine.cancel![runId];
      }
      if (mine.cancel && Object.keys(mine.cancel).length === 0) delete mine.cancel;
      out.live.add(this.#id);
      return { value: registry, result: out };
    });
    if (!renewal.lost) this.#expiresAt = expiresAt;
    return renewal;
  }

  /** Ends this runner's lease now (orderly stop): other runners take its slots at their next heartbeat. */
  async end(): Promise<void> {
    const now = this.clock.now();
    await this.#update<Registry, void>(REGISTRY, (registry) => {
      const mine = registry?.runners[this.#id];
      if (!registry || !mine || expired(mine, now)) return { result: undefined };
      mine.expiresAt = now;
      mine.stopped = true;
      return { value: registry, result: undefined };
    });
    this.#expiresAt = now;
  }

  /** Drops a dead runner from the record once its slots are taken over. */
  async forget(runner: string): Promise<void> {
    const now = this.clock.now();
    await this.#update<Registry, void>(REGISTRY, (registry) => {
      const lease = registry?.runners[runner];
      if (!registry || !lease || !expired(lease, now)) return { result: undefined };
      delete registry.runners[runner];
      return { value: registry, result: undefined };
    });
  }

  /** Asks a runner to cancel one of its runs (seen by its next heartbeat). */
  async requestCancel(runner: string, runId: string, reason: string): Promise<void> {
    const now = this.clock.now();
    await this.#update<Registry, void>(REGISTRY, (registry) => {
      const lease = registry?.runners[runner];
      // A dead runner's run is ended as interrupted when its slot is taken over.
      if (!registry || !lease || expired(lease, now)) return { result: undefined };
      lease.cancel = { ...lease.cancel, [runId]: { reason, at: now } };
      return { value: registry, result: undefined };
    });
  }

  /** Every runner's lease as the record holds it now. */
  async registry(): Promise<Registry> {
    return (await this.kv.get<Registry>(REGISTRY))?.value ?? { runners: {} };
  }

  /** Whether a lease holds at this moment. */
  isLive(registry: Registry, runner: string): boolean {
    const lease = registry.runners[runner];
    return lease !== undefined && !expired(lease, this.clock.now());
  }

  async slot(key: string): Promise<SlotRecord | undefined> {
    return (await this.kv.get<SlotRecord>(SLOT + key))?.value;
  }

  /** A slot with the revision it was read at (for takeOver). */
  async read(key: string): Promise<Slot | undefined> {
    const entry = await this.kv.get<SlotRecord>(SLOT + key);
    return entry ? { key, value: structuredClone(entry.value), revision: entry.revision } : undefined;
  }

  /** Every slot that has a holder (read one by one: only at start and when a runner died). */
  async heldSlots(): Promise<Slot[]> {
    const out: Slot[] = [];
    for (const name of new Set(await this.kv.keys(SLOT))) {
      const slot = await this.read(name.slice(SLOT.length));
      if (slot?.value.holder) out.push(slot);
    }
    return out;
  }

  /**
   * Puts a run in its slot's queue (a no-op when it is there already). In a free slot this runner
   * takes the slot for the run at once (`acquired`: the runner id it was taken under; run it now). With `replace`, the queued runs are
   * dropped — `drop` is called with them before the write, to end their records — and the holder's
   * run is returned in `cancel`. `queued` is asked after each read of the slot that does not name the
   * run; false (it ended meanwhile) writes nothing, so a `replace` cancels nothing.
   */
  async enqueue(
    key: string,
    runId: string,
    options: { replace: boolean; drop: (ids: string[]) => Promise<void>; queued: () => Promise<boolean> },
  ): Promise<{ acquired?: string; present: boolean; cancel?: SlotHolder; dropped: string[] }> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.kv.get<SlotRecord>(SLOT + key);
      const slot: SlotRecord = entry ? structuredClone(entry.value) : { queue: [] };
      if (slot.holder?.runId === runId || slot.queue.includes(runId)) return { present: true, dropped: [] };
      // The caller's copy of the run may be older than this read of the slot: the run may have held
      // the slot and ended since. Asked now, after the read, the write below fails if it changed again.
      if (!(await options.queued())) return { present: false, dropped: [] };
      let dropped: string[] = [];
      if (options.replace && slot.queue.length > 0) {
        dropped = slot.queue.splice(0);
        await options.drop(dropped);
      }
      const holder = slot.holder;
      if (holder) slot.queue.push(runId);
      else slot.holder = this.#holder(runId);
      if ((await this.kv.compareAndSet(SLOT + key, slot, entry?.revision ?? 0)) !== undefined) {
        return {
          ...(holder ? {} : { acquired: slot.holder!.runner }),
          present: false,
          dropped,
          ...(holder && options.replace ? { cancel: holder } : {}),
        };
      }
      this.#contended(attempt, key);
    }
  }

  /**
   * The run this runner held the slot for has ended: hands the slot to the next queued run (this
   * runner keeps it and runs that one) or frees it. Undefined when the queue is empty, or when this
   * runner no longer holds the slot for that run (taken over).
   */
  async next(key: string, runId: string): Promise<string | undefined> {
    return this.#update<SlotRecord, string | undefined>(SLOT + key, (slot) => {
      if (!slot || slot.holder?.runner !== this.#id || slot.holder.runId !== runId)
        return { result: undefined };
      const following = slot.queue.shift();
      if (following === undefined) delete slot.holder;
      else slot.holder = this.#holder(following);
      return { value: slot, result: following };
    });
  }

  /** Takes a dead runner's slot as it was read (by revision); the held run id when that worked. */
  async takeOver(slot: Slot): Promise<string | undefined> {
    const runId = slot.value.holder?.runId;
    if (runId === undefined) return undefined;
    const value: SlotRecord = { ...structuredClone(slot.value), holder: this.#holder(runId) };
    const revision = await this.kv.compareAndSet(SLOT + slot.key, value, slot.revision);
    return revision === undefined ? undefined : runId;
  }

  #holder(runId: string): SlotHolder {
    return { runner: this.#id, runId, since: new Date(this.clock.now()).toISOString() };
  }

  /** Read, change, compare-and-set; again from the read when another runner wrote in between. */
  async #update<T, R>(key: string, change: (current: T | undefined) => { value?: T; result: R }): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.kv.get<T>(key);
      const { value, result } = change(entry ? structuredClone(entry.value) : undefined);
      if (value === undefined) return result;
      if ((await this.kv.compareAndSet(key, value, entry?.revision ?? 0)) !== undefined) return result;
      this.#contended(attempt, key);
    }
  }

  #contended(attempt: number, key: string): void {
    if (attempt < ATTEMPTS) return;
    throw new RetryableError(
      Codes.STORE_CONTENTION,
      `could not update "${key}" in the pipeline store: other runners wrote it ${ATTEMPTS} times in a row; retried later`,
    );
  }
}

function expired(lease: RunnerLease, now: number): boolean {
  return lease.expiresAt <= now || gone(lease);
}

/** The lease's process was on this machine and PID namespace and has exited. */
function gone(lease: RunnerLease): boolean {
  if (!MACHINE || lease.machine !== MACHINE || lease.pid === process.pid) return false;
  try {
    process.kill(lease.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const MACHINE = machine();

function machine(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined;
  }
}
