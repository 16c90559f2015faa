import {
  isSwitchyardError,
  type KeyValueStore,
  PermanentError,
  type SwitchyardEvent,
} from '@switchyard/core';
import { PipelineErrorCodes as Codes } from './errors.js';
import type { PipelineCompletedData } from './events.js';

// Run records, kept in the plugin's store (persisted by the transport, so they survive restarts;
// shared by every runner on a NATS store). Keys: `run/<runId>` → RunRecord;
// `trigger/<pipeline>/<eventId>` → runId, so a redelivered trigger event never starts a second run.
// (leases.ts keeps `runners` and `slot/<key>` in the same store.)
//
// Every write of a run record is a compare-and-set against the revision this runner last read or
// wrote: when another runner took the run over (this runner's lease ran out), the write fails with
// SY_PIPELINE_LEASE_LOST instead of overwriting what the other runner recorded.

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StageStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface StepRecord {
  number: number;
  name: string;
  type: string;
  status: StepStatus;
  /** Log file name inside the run's log directory. */
  log: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** Last lines of output. */
  tail?: string;
  error?: { code: string; message: string };
  /** What an action step returned (trimmed). */
  result?: unknown;
}

export interface StageRecord {
  name: string;
  always: boolean;
  status: StageStatus;
  startedAt?: string;
  durationMs?: number;
  steps: StepRecord[];
}

/** The issue as templates see it (`.issue`). */
export interface IssueScope {
  key: string;
  id?: string;
  project?: string;
  summary?: string;
  status?: string;
  type?: string;
  url?: string;
  labels?: string[];
  fields: Record<string, unknown>;
}

export interface RunRecord {
  id: string;
  pipeline: string;
  issueKey?: string;
  issue?: IssueScope;
  /** Runs with the same key run one at a time: `<pipeline>` or `<pipeline>/<issueKey>`. */
  key: string;
  status: RunStatus;
  trigger: { kind: 'jira-issue' | 'event' | 'manual'; event: SwitchyardEvent; requestedBy?: string };
  /** The PipelineStarted event: the cause of everything the run emits. */
  started?: { id: string; correlationid: string };
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  outcome?: 'succeeded' | 'failed' | 'cancelled';
  reason?: string;
  code?: string;
  failedStage?: string;
  failedStep?: string;
  commit?: string;
  /** The runner that executed the run (`<host>-<pid>-<random>`): its disk holds the logs and workspace. */
  runner?: string;
  /** PipelineCompleted data recorded but not yet published (published again at start if so). */
  pendingCompletion?: PipelineCompletedData;
  logDir: string;
  workspace: string;
  stages: StageRecord[];
}

export type RunSummary = Omit<RunRecord, 'trigger' | 'issue' | 'pendingCompletion'> & {
  trigger: { kind: string; type: string; eventId: string; requestedBy?: string };
};

export class RunStore {
  /**
   * The revision each record object was read or last written at. Kept per object, not per id: a
   * fresh read elsewhere (GET /runs) must not bless a stale copy that a run still holds.
   */
  readonly #revisions = new WeakMap<RunRecord, number>();

  constructor(readonly kv: KeyValueStore) {}

  /** A copy of the record (changing it changes nothing until save()). */
  async get(id: string): Promise<RunRecord | undefined> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return undefined;
    const entry = await this.kv.get<RunRecord>(`run/${id}`);
    if (!entry) return undefined;
    const run = structuredClone(entry.value);
    this.#revisions.set(run, entry.revision);
    return run;
  }

  /** Records a new run; false when a record with this id exists already (another runner made it). */
  async create(run: RunRecord): Promise<boolean> {
    const revision = await this.kv.compareAndSet(`run/${run.id}`, run, 0);
    if (revision === undefined) return false;
    this.#revisions.set(run, revision);
    return true;
  }

  /** Writes the run if nobody else wrote it since this runner read it; else SY_PIPELINE_LEASE_LOST. */
  async save(run: RunRecord): Promise<void> {
    const expected = this.#revisions.get(run);
    const revision =
      expected === undefined ? undefined : await this.kv.compareAndSet(`run/${run.id}`, run, expected);
    if (revision === undefined) {
      this.#revisions.delete(run);
      throw new PermanentError(
        Codes.LEASE_LOST,
        `run ${run.id} was changed by another runner since this runner read it (its lease ran out and the run was taken over); this runner leaves it alone`,
        { details: { runId: run.id } },
      );
    }
    this.#revisions.set(run, revision);
  }

  async delete(id: string): Promise<void> {
    await this.kv.delete(`run/${id}`);
  }

  /** Claims a trigger event for a pipeline; false when a run already exists for it. */
  async claim(pipeline: string, eventId: string, runId: string): Promise<string | undefined> {
    const key = `trigger/${pipeline}/${eventId}`;
    const revision = await this.kv.compareAndSet(key, runId, 0);
    if (revision !== undefined) return undefined;
    return (await this.kv.get<string>(key))?.value ?? '';
  }

  async forget(pipeline: string, eventId: string): Promise<void> {
    await this.kv.delete(`trigger/${pipeline}/${eventId}`);
  }

  /** Every run, oldest first (run ids are UUIDv7, so they sort by creation time). */
  async list(): Promise<RunRecord[]> {
    const keys = await this.kv.keys('run/');
    const out: RunRecord[] = [];
    for (const key of keys) {
      const entry = await this.kv.get<RunRecord>(key);
      if (!entry) continue;
      const run = structuredClone(entry.value);
      this.#revisions.set(run, entry.revision);
      out.push(run);
    }
    return out;
  }
}

/** A write refused because another runner took the run over. */
export function isLeaseLost(error: unknown): boolean {
  return isSwitchyardError(error) && error.code === Codes.LEASE_LOST;
}

/** A run as the operator API shows it: the trigger event reduced to its id and type. */
export function summarize(run: RunRecord): RunSummary {
  const { trigger, issue: _issue, pendingCompletion: _pending, ...rest } = run;
  return {
    ...rest,
    trigger: {
      kind: trigger.kind,
      type: trigger.event.type,
      eventId: trigger.event.id,
      ...(trigger.requestedBy ? { requestedBy: trigger.requestedBy } : {}),
    },
  };
}
