import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ActionInvoker,
  type Clock,
  isSwitchyardError,
  type Logger,
  PermanentError,
  type PluginBus,
  type SwitchyardEvent,
  uuidv7,
} from '@switchyard/core';
import { abortOf, isShutdown, RunAbort } from './abort.js';
import { formatDuration } from './duration.js';
import { PipelineErrorCodes as Codes, type PipelineErrorCode, stepError } from './errors.js';
import type { PipelineCompletedData } from './events.js';
import { Leases, type Registry } from './leases.js';
import type { PipelineDefinition, Scope, StageDefinition, StepDefinition } from './load.js';
import type { PipelineOptions } from './options.js';
import { runProcess, StepLog } from './process.js';
import { runnerFor, type StepContext } from './steps/index.js';
import {
  type IssueScope,
  isLeaseLost,
  type RunRecord,
  type RunStore,
  type StageRecord,
  type StepRecord,
} from './store.js';
import { issueFromEvent, issueKeysOf, type TriggerMatch, triggerLabel, triggerScope } from './triggers.js';

// The run state machine. A run is recorded as `queued`, becomes `running` once PipelineStarted is
// published, and ends `succeeded`, `failed` or `cancelled` with a PipelineCompleted. Runs with the
// same key (pipeline + issue) run one at a time — across every runner sharing the store, through the
// key's slot (leases.ts): later ones wait in order, or with `concurrency: replace` the running one is
// cancelled (on its own runner, through a request its heartbeat picks up). On shutdown the steps are
// killed, the record is left `running` and the runner's lease is ended; whoever takes the slot over
// (another runner at its next heartbeat, or this one at its next start) ends such runs as failed,
// reason "interrupted", and goes on with the queue. A crashed runner's lease runs out by itself.

export interface RunManagerDeps {
  pipelines: ReadonlyMap<string, PipelineDefinition>;
  options: PipelineOptions;
  store: RunStore;
  bus: PluginBus;
  actions: ActionInvoker;
  clock: Clock;
  logger: Logger;
}

interface Active {
  id: string;
  /** Aborted for a cancel, a timeout, a stop or a lost lease. */
  controller: AbortController;
  /** Aborted only for a stop or a lost lease: `always` stages still run after a cancel or timeout. */
  hard: AbortController;
}

interface Failure {
  code: string;
  message: string;
  stage: string;
  step: string;
  tail?: string;
}

const ABORT_CODES: Record<RunAbort['kind'], PipelineErrorCode> = {
  'step-timeout': Codes.STEP_TIMEOUT,
  'run-timeout': Codes.RUN_TIMEOUT,
  cancel: Codes.CANCELLED,
  shutdown: Codes.INTERRUPTED,
  lost: Codes.LEASE_LOST,
};

export class RunManager {
  readonly #d: RunManagerDeps;
  readonly #leases: Leases;
  /** Runs this runner executes (or ends) now, by id. */
  readonly #active = new Map<string, Active>();
  /** Slot loops running here (one per slot this runner holds). */
  readonly #drives = new Set<Promise<void>>();
  /** Cancels asked here for a run of this runner that was not active yet. */
  readonly #cancels = new Map<string, string>();
  /** Run ids between claiming their trigger and recording the run. */
  readonly #claiming = new Set<string>();
  #stopping = false;
  /** Between noticing a lost lease and taking a new one: no run starts. */
  #losing = false;
  #cancelBeat: (() => void) | undefined;
  #cancelFence: (() => void) | undefined;
  #losingNow: Promise<void> | undefined;
  #beat: Promise<void> = Promise.resolve();
  #pruning: Promise<void> = Promise.resolve();
  /** Resolves once the first lease is taken (runs asked for before start() wait for it). */
  readonly #registered: Promise<void>;
  #onRegistered!: () => void;

  constructor(deps: RunManagerDeps) {
    this.#d = deps;
    this.#leases = new Leases(deps.store.kv, deps.clock, deps.options.leaseTtl);
    this.#registered = new Promise((resolve) => {
      this.#onRegistered = resolve;
    });
  }

  /** This runner's id in the shared store. */
  get runnerId(): string {
    return this.#leases.id;
  }

  /** Records a run for a matched trigger (once per trigger event) and queues it. */
  async request(match: TriggerMatch, event: SwitchyardEvent): Promise<{ runId: string; created: boolean }> {
    const { store } = this.#d;
    const mine = uuidv7();
    this.#claiming.add(mine);
    let adopted: string | undefined;
    try {
      const existing = await store.claim(match.pipeline.name, event.id, mine);
      if (existing === undefined) return await this.#record(match, event, mine);
      // Claimed before: by a run that exists, by a request in flight here, or by a process that
      // died between claiming and recording (then this redelivery records the run).
      if (this.#claiming.has(existing)) return { runId: existing, created: false };
      const run = await store.get(existing);
      if (run) {
        // Recorded, but perhaps not queued (the runner failed in between): queueing is idempotent.
        if (run.status === 'queued') await this.#enqueue(run, match.pipeline);
        return { runId: existing, created: false };
      }
      adopted = existing;
      this.#claiming.add(adopted);
      return await this.#record(match, event, adopted);
    } finally {
      this.#claiming.delete(mine);
      if (adopted) this.#claiming.delete(adopted);
    }
  }

  async #record(
    match: TriggerMatch,
    event: SwitchyardEvent,
    runId: string,
  ): Promise<{ runId: string; created: boolean }> {
    const { store, options, clock, logger } = this.#d;
    const issueKey = match.issueKey;
    const issue = issueFromEvent(event) ?? (issueKey ? await this.#lookupIssue(issueKey) : undefined);
    const dir = join(options.workdir, 'runs', runId);
    let number = 0;
    const run: RunRecord = {
      id: runId,
      pipeline: match.pipeline.name,
      ...(issueKey ? { issueKey } : {}),
      ...(issue ? { issue } : {}),
      key: issueKey ? `${match.pipeline.name}/${issueKey}` : match.pipeline.name,
      status: 'queued',
      trigger: {
        kind: match.kind,
        event: JSON.parse(JSON.stringify(event)) as SwitchyardEvent,
        ...(match.requestedBy ? { requestedBy: match.requestedBy } : {}),
      },
      queuedAt: new Date(clock.now()).toISOString(),
      logDir: join(dir, 'logs'),
      workspace: join(dir, 'workspace'),
      stages: match.pipeline.stages.map((stage) => ({
        name: stage.name,
        always: stage.always,
        status: 'pending',
        steps: stage.steps.map((step) => ({
          number: step.number,
          name: step.name,
          type: step.type,
          status: 'pending',
          log: `${String(++number).padStart(2, '0')}-${safe(stage.name)}-${safe(step.name)}.log`,
        })),
      })),
    };
    // Another runner may have adopted the same orphaned claim just now: one record wins.
    if (!(await store.create(run))) return { runId, created: false };
    logger.info(
      { pipeline: run.pipeline, runId, issueKey, trigger: match.kind, eventId: event.id },
      `pipeline ${run.pipeline} run ${runId} queued`,
    );
    await this.#enqueue(run, match.pipeline);
    return { runId, created: true };
  }

  /** A run by hand (operator route, `pipeline.run` action): publishes PipelineRunRequested, then runs it. */
  async requestManual(
    input: { pipeline: string; issueKey?: string | undefined; requestedBy?: string | undefined },
    cause?: SwitchyardEvent,
  ): Promise<{ runId: string }> {
    const pipeline = this.#d.pipelines.get(input.pipeline);
    if (!pipeline) {
      throw new PermanentError(
        Codes.UNKNOWN_PIPELINE,
        `no pipeline named "${input.pipeline}"; loaded: ${[...this.#d.pipelines.keys()].join(', ') || '(none)'}`,
      );
    }
    const data = {
      pipeline: input.pipeline,
      ...(input.issueKey ? { issueKey: input.issueKey } : {}),
      ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
    };
    const { event } = await this.#d.bus.publish('PipelineRunRequested', data, {
      cause: cause ?? null,
      ...(input.issueKey ? { subject: input.issueKey } : {}),
    });
    const { runId } = await this.request(
      {
        pipeline,
        kind: 'manual',
        ...(input.issueKey ? { issueKey: input.issueKey } : {}),
        ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
      },
      event,
    );
    return { runId };
  }

  /**
   * At start: takes a lease, ends runs left `running` that no live runner holds (reason
   * "interrupted"), queues queued runs that are in no queue, takes over the slots of runners whose
   * lease ran out, and starts the heartbeat.
   */
  async recover(): Promise<void> {
    const { store, logger } = this.#d;
    await this.#leases.register();
    this.#onRegistered();
    logger.info(
      { runner: this.#leases.id, leaseTtlMs: this.#leases.ttlMs },
      `pipeline runner ${this.#leases.id} took its lease`,
    );
    // Records no slot accounts for: left by a version without slots, or by a run that crashed.
    for (const run of await store.list()) {
      if (run.status !== 'running' && run.status !== 'queued' && !run.pendingCompletion) continue;
      try {
        const slot = await this.#leases.slot(run.key);
        if (slot?.holder?.runId === run.id) continue; // its holder (or whoever takes it over) sees to it
        if (run.pendingCompletion && run.started) await this.#publishCompletion(run, run.started);
        if (run.status === 'running') await this.#endInterrupted(run);
        else if (run.status === 'queued' && !slot?.queue.includes(run.id)) {
          const pipeline = this.#d.pipelines.get(run.pipeline);
          if (pipeline) await this.#enqueue(run, pipeline);
          else await this.#finishUnstarted(run, 'failed', ...gone(run.pipeline));
        }
      } catch (error) {
        if (!isLeaseLost(error))
          logger.error({ runId: run.id, err: error }, 'could not recover a pipeline run');
      }
    }
    await this.#sweep(await this.#leases.registry(), { everySlot: true });
    this.#armFence();
    this.#scheduleBeat();
  }

  /**
   * Kills every running step and waits (bounded) for the runs to notice; records stay `running`.
   * Then ends this runner's lease, so the runs are taken over (and ended as interrupted) at once.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    this.#cancelBeat?.();
    this.#cancelFence?.();
    this.#halt(new RunAbort('shutdown', 'the runner is stopping'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#drives, this.#beat, this.#pruning, this.#losingNow]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    if (!this.#leases.id) return;
    await this.#leases
      .end()
      .catch((error) =>
        this.#d.logger.warn(
          { err: error, runner: this.#leases.id },
          `could not end the pipeline lease; its runs are taken over when it runs out (${formatDuration(this.#leases.ttlMs)})`,
        ),
      );
  }

  /** Ids of the runs executing now. */
  activeRuns(): string[] {
    return [...this.#active.keys()];
  }

  /** Queues a run in its slot; runs it here at once when the slot was free. */
  async #enqueue(run: RunRecord, pipeline: PipelineDefinition): Promise<void> {
    const { logger } = this.#d;
    await this.#registered;
    const replace = pipeline.concurrency === 'replace';
    const reason = `replaced by run ${run.id}`;
    const result = await this.#leases.enqueue(run.key, run.id, {
      replace,
      // Not found counts as queued: a store replica may not have the record yet.
      queued: async () => ((await this.#d.store.get(run.id))?.status ?? 'queued') === 'queued',
      drop: async (ids) => {
        for (const id of ids) {
          const old = await this.#d.store.get(id);
          if (old?.status !== 'queued') continue;
          await this.#finishUnstarted(old, 'cancelled', reason, Codes.CANCELLED).catch((error) => {
            // Started by its holder meanwhile: it is cancelled as the holder's run instead.
            if (!isLeaseLost(error)) throw error;
          });
        }
      },
    });
    if (result.acquired) {
      this.#drive(run.key, run.id, result.acquired);
      return;
    }
    const holder = result.cancel;
    if (!holder) return;
    logger.info(
      { runId: holder.runId, by: run.id, runner: holder.runner },
      `cancelling run ${holder.runId}: ${reason}`,
    );
    if (holder.runner === this.#leases.id) this.#cancel(holder.runId, reason);
    else await this.#leases.requestCancel(holder.runner, holder.runId, reason);
  }

  /** Cancels a run of this runner now, or as soon as it becomes active. */
  #cancel(runId: string, reason: string): void {
    const active = this.#active.get(runId);
    if (!active) {
      this.#cancels.set(runId, reason);
      return;
    }
    if (!active.controller.signal.aborted) active.controller.abort(new RunAbort('cancel', reason));
  }

  /**
   * Works through a slot this runner holds (under lease `owner`): the held run, then each queued one,
   * until the queue is empty. A slot taken under a lease since lost is left for the sweep.
   */
  #drive(key: string, first: string, owner: string): void {
    const { logger } = this.#d;
    const loop = async () => {
      let id: string | undefined = first;
      while (id !== undefined && !this.#stopping && !this.#losing && owner === this.#leases.id) {
        const active: Active = { id, controller: new AbortController(), hard: new AbortController() };
        this.#active.set(id, active);
        const cancel = this.#cancels.get(id);
        if (cancel !== undefined) {
          this.#cancels.delete(id);
          active.controller.abort(new RunAbort('cancel', cancel));
        }
        try {
          await this.#process(id, active);
        } catch (error) {
          // Another runner wrote the run (took it over, or ended it while it was still queued): the
          // slot is handed on below only if this runner still holds it for this run.
          if (isLeaseLost(error))
            logger.warn({ runId: id, err: error }, `pipeline run ${id} was changed by another runner`);
          else logger.error({ runId: id, err: error }, `pipeline run ${id} crashed`);
        } finally {
          this.#active.delete(id);
        }
        // Stopping or lost: the slot stays under this runner's ended lease, for a live runner to take.
        if (this.#stopping || active.hard.signal.aborted) return;
        const ended: string = id;
        id = await this.#retrying(`hand pipeline slot ${key} on`, () => this.#leases.next(key, ended));
      }
    };
    const done: Promise<void> = loop()
      .catch((error) => logger.error({ err: error, key }, `pipeline slot ${key} stopped`))
      .finally(() => this.#drives.delete(done));
    this.#drives.add(done);
  }

  /**
   * A store call the slot cannot go on without (reading the held run, handing the slot on), retried
   * while the store fails and this runner's lease holds; undefined once it is stopping or lost.
   */
  async #retrying<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    const { clock, logger } = this.#d;
    for (let wait = 500; ; wait = Math.min(wait * 2, 30_000)) {
      try {
        return await fn();
      } catch (error) {
        logger.warn({ err: error }, `could not ${what}; retrying in ${formatDuration(wait)}`);
        if (this.#stopping || this.#losing || this.#leases.expiresAt <= clock.now()) return undefined;
        await clock.sleep(wait);
      }
    }
  }

  /** What holding a run's slot means for it: run it, end it (its runner died), or finish publishing it. */
  async #process(id: string, active: Active): Promise<void> {
    const run = await this.#retrying(`read pipeline run ${id}`, () => this.#d.store.get(id));
    if (!run) return;
    if (run.status === 'queued') return this.#execute(run, active);
    if (run.status === 'running') return this.#endInterrupted(run);
    if (run.pendingCompletion && run.started) await this.#publishCompletion(run, run.started);
  }

  #halt(reason: RunAbort): void {
    for (const active of this.#active.values()) {
      active.hard.abort(reason);
      active.controller.abort(reason);
    }
  }

  #scheduleBeat(): void {
    if (this.#stopping) return;
    this.#cancelBeat = this.#d.clock.setTimer(
      () => {
        this.#beat = this.#heartbeat()
          .catch((error) => this.#d.logger.error({ err: error }, 'pipeline heartbeat failed'))
          .finally(() => this.#scheduleBeat());
      },
      Math.floor(this.#leases.ttlMs / 3),
    );
  }

  /** Renews the lease, cancels what other runners asked, takes over dead runners' slots. */
  async #heartbeat(): Promise<void> {
    const { logger, clock } = this.#d;
    try {
      const renewal = await this.#leases.renew((runId) => this.#active.has(runId));
      if (this.#stopping) return;
      if (!renewal.lost) this.#armFence();
      for (const { runId, reason } of renewal.cancels) this.#cancel(runId, reason);
      if (renewal.lost) {
        await this.#lose('its lease ran out before it was renewed');
        return;
      }
      if (renewal.expired.length > 0) await this.#sweep(await this.#leases.registry(), { everySlot: false });
    } catch (error) {
      logger.warn({ err: error, runner: this.#leases.id }, 'could not renew the pipeline lease');
      if (!this.#stopping && this.#leases.expiresAt <= clock.now())
        await this.#lose('it could not reach the store before its lease ran out');
    }
  }

  /**
   * This runner's lease ran out: other runners may be taking its slots over, so it stops its runs
   * without writing to them, and comes back under a new lease — taking over its own old slots like
   * any dead runner's, if no one else did.
   */
  #lose(why: string): Promise<void> {
    this.#losingNow ??= this.#relinquish(why).finally(() => {
      this.#losingNow = undefined;
    });
    return this.#losingNow;
  }

  /**
   * The watchdog: with no renewal until shortly before the lease runs out (killGrace + 1s before,
   * at most a third of the lease), this runner stops its runs — so their steps are dead by the time
   * another runner takes the slots over.
   */
  #armFence(): void {
    this.#cancelFence?.();
    if (this.#stopping) return;
    const { clock, options, logger } = this.#d;
    const margin = Math.min(options.killGrace + 1_000, Math.floor(this.#leases.ttlMs / 3));
    const expiresAt = this.#leases.expiresAt;
    this.#cancelFence = clock.setTimer(
      () => {
        this.#cancelFence = undefined;
        if (this.#stopping || this.#losing || this.#leases.expiresAt !== expiresAt) return;
        this.#lose('it could not renew its lease in time').catch((error) =>
          logger.error({ err: error }, 'could not take a new pipeline lease'),
        );
      },
      Math.max(0, expiresAt - margin - clock.now()),
    );
  }

  async #relinquish(why: string): Promise<void> {
    const { logger, options } = this.#d;
    const old = this.#leases.id;
    this.#losing = true;
    this.#cancels.clear();
    logger.warn(
      { runner: old, runs: this.activeRuns() },
      `pipeline runner ${old} lost its lease (${why}); its runs are stopped and ended as interrupted`,
    );
    this.#halt(new RunAbort('lost', `runner ${old} lost its lease`));
    let timer: (() => void) | undefined;
    await Promise.race([
      Promise.allSettled([...this.#drives]),
      new Promise<void>((resolve) => {
        timer = this.#d.clock.setTimer(resolve, options.killGrace + 1_000);
      }),
    ]);
    timer?.();
    if (this.#stopping) return;
    await this.#leases.register();
    this.#losing = false;
    this.#armFence();
    logger.info({ runner: this.#leases.id, was: old }, `pipeline runner ${this.#leases.id} took a new lease`);
    await this.#sweep(await this.#leases.registry(), { everySlot: true });
  }

  /**
   * Takes over the slots of runners whose lease ran out (and, with everySlot, of runners the record
   * no longer lists), then forgets those runners. Each taken slot is driven here: its run is ended
   * as interrupted (or run, if it never started), then the queue goes on.
   */
  async #sweep(seen: Registry, { everySlot }: { everySlot: boolean }): Promise<void> {
    const { logger } = this.#d;
    const dead = Object.keys(seen.runners).filter(
      (id) => id !== this.#leases.id && !this.#leases.isLive(seen, id),
    );
    if (dead.length === 0 && !everySlot) return;
    const slots = await this.#leases.heldSlots();
    // Read after the slots: a runner holding one of them registered before it took it.
    let registry = await this.#leases.registry();
    for (let slot of slots) {
      for (;;) {
        const holder = slot.value.holder;
        if (!holder || holder.runner === this.#leases.id || this.#leases.isLive(registry, holder.runner))
          break;
        if (!everySlot && !dead.includes(holder.runner)) break;
        const runId = await this.#leases.takeOver(slot);
        if (runId !== undefined) {
          logger.warn(
            { key: slot.key, runId, from: holder.runner, runner: this.#leases.id },
            `took over pipeline slot ${slot.key} from runner ${holder.runner}, whose lease ran out`,
          );
          this.#drive(slot.key, runId, this.#leases.id);
          break;
        }
        // Written meanwhile (a run queued behind the dead holder, another runner took it): again.
        const again = await this.#leases.read(slot.key);
        if (!again) break;
        slot = again;
        registry = await this.#leases.registry();
      }
    }
    for (const id of dead) await this.#leases.forget(id);
  }

  async #execute(run: RunRecord, { controller, hard }: Active): Promise<void> {
    const { store, bus, clock, options, logger } = this.#d;
    const pipeline = this.#d.pipelines.get(run.pipeline);
    if (!pipeline) {
      await this.#finishUnstarted(run, 'failed', ...gone(run.pipeline));
      return;
    }
    const early = abortOf(controller.signal);
    if (early?.kind === 'cancel') {
      await this.#finishUnstarted(run, 'cancelled', early.message, Codes.CANCELLED);
      return;
    }
    // Recorded as this runner's before anything is published: a runner that took the run over
    // meanwhile makes this write fail, and the run is left to it.
    run.runner = this.#leases.id;
    await store.save(run);
    mkdirSync(run.logDir, { recursive: true });
    mkdirSync(run.workspace, { recursive: true });
    const { event: started } = await bus.publish(
      'PipelineStarted',
      {
        pipeline: run.pipeline,
        runId: run.id,
        ...(run.issueKey ? { issueKey: run.issueKey } : {}),
        trigger: triggerLabel(run.trigger.kind, run.trigger.event),
      },
      { cause: run.trigger.event, ...(run.issueKey ? { subject: run.issueKey } : {}) },
    );
    const t0 = clock.now();
    run.status = 'running';
    run.started = { id: started.id, correlationid: started.correlationid };
    run.startedAt = new Date(t0).toISOString();
    await store.save(run);
    logger.info(
      { pipeline: run.pipeline, runId: run.id, issueKey: run.issueKey },
      `pipeline ${run.pipeline} run ${run.id} started`,
    );

    const runTimeoutMs = pipeline.timeoutMs ?? options.runTimeout;
    const cancelRunTimer = clock.setTimer(() => {
      if (!controller.signal.aborted) {
        controller.abort(
          new RunAbort('run-timeout', `the run timed out after ${formatDuration(runTimeoutMs)}`),
        );
      }
    }, runTimeoutMs);
    const signal = controller.signal;
    const scope = this.#scope(run);
    let env: NodeJS.ProcessEnv;
    let failure: Failure | undefined;
    try {
      env = this.#env(run, pipeline, scope);
    } catch (error) {
      env = this.#env(run, undefined, scope);
      failure = {
        code: Codes.TEMPLATE_RENDER,
        message: `pipeline env: ${messageOf(error)}`,
        stage: '',
        step: '',
      };
    }

    try {
      for (const [i, stage] of pipeline.stages.entries()) {
        const record = run.stages[i]!;
        if (hard.signal.aborted || this.#stopping) return;
        const runStopped = signal.aborted;
        if ((failure || runStopped) && !stage.always) {
          record.status = 'skipped';
          for (const s of record.steps) s.status = 'skipped';
          await this.#stageCompleted(run, started, record, 'skipped', 0);
          continue;
        }
        // An `always` stage after a timeout or cancel runs under its own step timeouts only.
        const stageSignal = runStopped ? hard.signal : signal;
        const s0 = clock.now();
        record.status = 'running';
        record.startedAt = new Date(s0).toISOString();
        await store.save(run);
        let stageFailure: Failure | undefined;
        for (const [j, step] of stage.steps.entries()) {
          const stepRecord = record.steps[j]!;
          if (stageFailure) {
            stepRecord.status = 'skipped';
            continue;
          }
          stageFailure = await this.#runStep(
            run,
            pipeline,
            stage,
            step,
            stepRecord,
            scope,
            env,
            started,
            stageSignal,
          );
          if (hard.signal.aborted || this.#stopping) return;
        }
        record.status = stageFailure ? 'failed' : 'succeeded';
        record.durationMs = clock.now() - s0;
        failure ??= stageFailure;
        await this.#stageCompleted(run, started, record, record.status, record.durationMs, stageFailure);
      }
    } finally {
      cancelRunTimer();
    }
    if (hard.signal.aborted || this.#stopping) return;

    const abort = abortOf(signal);
    const outcome = abort?.kind === 'cancel' ? 'cancelled' : failure || abort ? 'failed' : 'succeeded';
    const reason = outcome === 'cancelled' ? abort!.message : (failure?.message ?? abort?.message);
    const code =
      outcome === 'cancelled'
        ? Codes.CANCELLED
        : (failure?.code ?? (abort ? ABORT_CODES[abort.kind] : undefined));
    await this.#complete(run, started, {
      outcome,
      ...(reason ? { reason } : {}),
      ...(code ? { code } : {}),
      ...(failure?.stage ? { failedStage: failure.stage } : {}),
      ...(failure?.step ? { failedStep: failure.step } : {}),
      ...(failure?.tail ? { tail: failure.tail } : {}),
    });
    if (!options.keepWorkspaces) rmSync(run.workspace, { recursive: true, force: true });
    this.#schedulePrune();
  }

  async #runStep(
    run: RunRecord,
    pipeline: PipelineDefinition,
    stage: StageDefinition,
    step: StepDefinition,
    record: StepRecord,
    scope: Scope,
    env: NodeJS.ProcessEnv,
    started: SwitchyardEvent,
    runSignal: AbortSignal,
  ): Promise<Failure | undefined> {
    const { store, clock, options, logger } = this.#d;
    const t0 = clock.now();
    record.status = 'running';
    record.startedAt = new Date(t0).toISOString();
    delete record.error;
    await store.save(run);
    const controller = new AbortController();
    const forward = () => controller.abort(runSignal.reason);
    if (runSignal.aborted) forward();
    else runSignal.addEventListener('abort', forward, { once: true });
    const timeoutMs = step.timeoutMs ?? options.stepTimeout;
    const cancelTimer = clock.setTimer(() => {
      if (!controller.signal.aborted) {
        controller.abort(
          new RunAbort('step-timeout', `step "${step.name}" timed out after ${formatDuration(timeoutMs)}`),
        );
      }
    }, timeoutMs);
    const log = new StepLog(join(run.logDir, record.log));
    log.note(`step ${step.number} ${stage.name}/${step.name} (${step.type}) of run ${run.id}`);
    const signal = controller.signal;
    const abortError = () => {
      const abort = abortOf(signal)!;
      return stepError(ABORT_CODES[abort.kind], abort.message);
    };
    try {
      let params: Record<string, unknown>;
      try {
        params = (step.params(scope) ?? {}) as Record<string, unknown>;
      } catch (error) {
        throw stepError(Codes.TEMPLATE_RENDER, `${step.location}: ${messageOf(error)}`);
      }
      if (signal.aborted) throw abortError();
      const ctx: StepContext = {
        run,
        pipeline,
        step,
        params,
        scope,
        workspace: run.workspace,
        env,
        log,
        signal,
        options,
        started,
        issueKeys: this.#issueKeys(run),
        bus: this.#d.bus,
        actions: this.#d.actions,
        clock,
        logger: logger.child({ runId: run.id, step: step.name }),
        exec: async (file, args, o = {}) => {
          const r = await runProcess({
            file,
            args,
            cwd: o.cwd ?? run.workspace,
            env: o.env ?? env,
            log,
            signal,
            clock,
            killGraceMs: options.killGrace,
            ...(o.capture ? { captureStdout: true } : {}),
          });
          if (r.spawnError) {
            const notFound = r.spawnError.code === 'ENOENT';
            throw stepError(
              notFound ? Codes.COMMAND_NOT_FOUND : Codes.COMMAND_FAILED,
              `cannot run ${file}: ${r.spawnError.message}${notFound ? ' (install it, or point the plugin option at it: git, kubectl, shell)' : ''}`,
            );
          }
          if (r.aborted && signal.aborted) throw abortError();
          return { exitCode: r.exitCode ?? 128, stdout: r.stdout };
        },
      };
      const outcome = await runnerFor(step.type)(ctx);
      if (signal.aborted) throw abortError();
      if (outcome?.commit) {
        run.commit = outcome.commit;
        (scope.run as Record<string, unknown>).commit = outcome.commit;
      }
      if (outcome?.result !== undefined) record.result = outcome.result;
      record.status = 'succeeded';
      log.note(`step ${step.name} succeeded in ${formatDuration(clock.now() - t0)}`);
      return undefined;
    } catch (error) {
      const abort = abortOf(signal);
      const failed = abort
        ? { code: ABORT_CODES[abort.kind], message: abort.message }
        : { code: isSwitchyardError(error) ? error.code : Codes.COMMAND_FAILED, message: messageOf(error) };
      if (abort?.kind === 'shutdown' || abort?.kind === 'lost') {
        log.note(
          abort.kind === 'shutdown'
            ? 'the runner is stopping; the step was killed'
            : 'the runner lost its lease (another runner ends this run); the step was killed',
        );
        return { ...failed, stage: stage.name, step: step.name };
      }
      record.status = 'failed';
      record.error = failed;
      log.note(`step ${step.name} failed: ${failed.message}`);
      return { ...failed, stage: stage.name, step: step.name };
    } finally {
      cancelTimer();
      runSignal.removeEventListener('abort', forward);
      record.finishedAt = new Date(clock.now()).toISOString();
      record.durationMs = clock.now() - t0;
      await log.close();
      record.tail = log.tail();
      if (!isShutdown(signal)) await store.save(run);
    }
  }

  async #stageCompleted(
    run: RunRecord,
    started: Pick<SwitchyardEvent, 'id' | 'correlationid'>,
    record: StageRecord,
    outcome: 'succeeded' | 'failed' | 'skipped',
    durationMs: number,
    failure?: Failure,
  ): Promise<void> {
    await this.#d.store.save(run);
    await this.#d.bus.publish(
      'StageCompleted',
      {
        pipeline: run.pipeline,
        runId: run.id,
        stage: record.name,
        outcome,
        durationMs: Math.max(0, Math.round(durationMs)),
        ...(run.issueKey ? { issueKey: run.issueKey } : {}),
        ...(failure ? { failedStep: failure.step, reason: failure.message } : {}),
      },
      { cause: started, ...(run.issueKey ? { subject: run.issueKey } : {}) },
    );
  }

  /**
   * Records the end, then publishes PipelineCompleted. The record keeps the event data until the
   * publish succeeded, so a crash in between re-publishes it at the next start (at least once), and
   * whoever reacts to PipelineCompleted already finds the run finished in GET /runs.
   */
  async #complete(
    run: RunRecord,
    started: Pick<SwitchyardEvent, 'id' | 'correlationid'>,
    end: Pick<PipelineCompletedData, 'outcome' | 'reason' | 'code' | 'failedStage' | 'failedStep' | 'tail'>,
  ): Promise<void> {
    const { clock, store, logger } = this.#d;
    const now = clock.now();
    const durationMs = Math.max(0, Math.round(now - (run.startedAt ? Date.parse(run.startedAt) : now)));
    if (end.failedStage && end.failedStep && end.tail === undefined) {
      const tail = run.stages
        .find((s) => s.name === end.failedStage)
        ?.steps.find((s) => s.name === end.failedStep)?.tail;
      if (tail) end = { ...end, tail };
    }
    run.status = end.outcome;
    run.outcome = end.outcome;
    run.finishedAt = new Date(now).toISOString();
    run.durationMs = durationMs;
    for (const key of ['reason', 'code', 'failedStage', 'failedStep'] as const) {
      if (end[key] !== undefined) run[key] = end[key];
    }
    run.pendingCompletion = {
      pipeline: run.pipeline,
      runId: run.id,
      ...end,
      durationMs,
      logDir: run.logDir,
      ...(run.issueKey ? { issueKey: run.issueKey } : {}),
    };
    await store.save(run);
    await this.#publishCompletion(run, started);
    logger[end.outcome === 'succeeded' ? 'info' : 'warn'](
      { pipeline: run.pipeline, runId: run.id, outcome: end.outcome, reason: end.reason, durationMs },
      `pipeline ${run.pipeline} run ${run.id} ${end.outcome}${end.reason ? `: ${end.reason}` : ''}`,
    );
  }

  async #publishCompletion(
    run: RunRecord,
    started: Pick<SwitchyardEvent, 'id' | 'correlationid'>,
  ): Promise<void> {
    if (!run.pendingCompletion) return;
    await this.#d.bus.publish('PipelineCompleted', run.pendingCompletion, {
      cause: started,
      ...(run.issueKey ? { subject: run.issueKey } : {}),
    });
    delete run.pendingCompletion;
    await this.#d.store.save(run);
  }

  async #endInterrupted(run: RunRecord): Promise<void> {
    const by = run.runner ? `runner ${run.runner}` : 'the runner';
    const message = `interrupted: ${by} stopped or lost its lease while this step ran`;
    let failedStage: string | undefined;
    let failedStep: string | undefined;
    for (const stage of run.stages) {
      if (stage.status === 'running') {
        stage.status = 'failed';
        failedStage ??= stage.name;
        for (const step of stage.steps) {
          if (step.status === 'running') {
            step.status = 'failed';
            step.error = { code: Codes.INTERRUPTED, message };
            failedStep ??= step.name;
          } else if (step.status === 'pending') step.status = 'skipped';
        }
        if (run.started)
          await this.#stageCompleted(
            run,
            run.started,
            stage,
            'failed',
            0,
            failedStep
              ? { code: Codes.INTERRUPTED, message, stage: stage.name, step: failedStep }
              : undefined,
          );
      } else if (stage.status === 'pending') {
        stage.status = 'skipped';
        for (const step of stage.steps) step.status = 'skipped';
      }
    }
    if (!run.started) {
      await this.#finishUnstarted(run, 'failed', 'interrupted', Codes.INTERRUPTED);
      return;
    }
    await this.#complete(run, run.started, {
      outcome: 'failed',
      reason: 'interrupted',
      code: Codes.INTERRUPTED,
      ...(failedStage ? { failedStage } : {}),
      ...(failedStep ? { failedStep } : {}),
    });
    if (!this.#d.options.keepWorkspaces) rmSync(run.workspace, { recursive: true, force: true });
  }

  /** Ends a run that never started (no PipelineStarted, so no PipelineCompleted either). */
  async #finishUnstarted(
    run: RunRecord,
    outcome: 'failed' | 'cancelled',
    reason: string,
    code: string,
  ): Promise<void> {
    run.status = outcome;
    run.outcome = outcome;
    run.reason = reason;
    run.code = code;
    run.finishedAt = new Date(this.#d.clock.now()).toISOString();
    for (const stage of run.stages) {
      stage.status = 'skipped';
      for (const step of stage.steps) step.status = 'skipped';
    }
    await this.#d.store.save(run);
    this.#d.logger.info(
      { runId: run.id, pipeline: run.pipeline },
      `pipeline run ${run.id} ${outcome} before it started: ${reason}`,
    );
  }

  /**
   * Prunes after the run, off the slot's path: listing every run can be slow on a shared store, and
   * the next queued run should not wait for it. One prune at a time.
   */
  #schedulePrune(): void {
    this.#pruning = this.#pruning
      .then(() => this.#prune())
      .catch((error) => this.#d.logger.warn({ err: error }, 'could not prune finished pipeline runs'));
  }

  /** Forgets the oldest finished runs beyond `keepRuns`, with their logs. */
  async #prune(): Promise<void> {
    const { store, options } = this.#d;
    const finished = (await store.list()).filter((r) => r.status !== 'queued' && r.status !== 'running');
    const excess = finished.length - options.keepRuns;
    for (const run of finished.slice(0, Math.max(0, excess))) {
      await store.delete(run.id);
      await store.forget(run.pipeline, run.trigger.event.id);
      rmSync(join(run.logDir, '..'), { recursive: true, force: true });
    }
  }

  #scope(run: RunRecord): Scope {
    return {
      ...triggerScope(run.trigger.event),
      ...(run.issue ? { issue: run.issue } : {}),
      run: {
        id: run.id,
        workspace: run.workspace,
        logDir: run.logDir,
        pipeline: run.pipeline,
        ...(run.commit ? { commit: run.commit } : {}),
      },
      pipeline: { name: run.pipeline },
    };
  }

  #env(run: RunRecord, pipeline: PipelineDefinition | undefined, scope: Scope): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CI: 'true',
      GIT_TERMINAL_PROMPT: '0',
      SWITCHYARD_PIPELINE: run.pipeline,
      SWITCHYARD_RUN_ID: run.id,
      SWITCHYARD_WORKSPACE: run.workspace,
      ...(run.issueKey ? { SWITCHYARD_ISSUE_KEY: run.issueKey } : {}),
    };
    const extra = pipeline ? ((pipeline.env(scope) ?? {}) as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(extra)) env[k] = v === null || v === undefined ? '' : String(v);
    return env;
  }

  #issueKeys(run: RunRecord): string[] {
    const keys = issueKeysOf(run.trigger.event);
    if (run.issueKey && !keys.includes(run.issueKey)) keys.unshift(run.issueKey);
    return keys;
  }

  /** `.issue` for a run started by hand or by a non-Jira event: the issue's last known transition. */
  async #lookupIssue(key: string): Promise<IssueScope> {
    try {
      const bySubject = await this.#d.bus.query({
        type: 'IssueTransitioned',
        subject: key,
        newestFirst: true,
        limit: 1,
      });
      // Events that came in without a subject (POST /events) are found by their data.
      const last =
        bySubject[0] ??
        (await this.#d.bus.query({ type: 'IssueTransitioned', newestFirst: true, limit: 500 })).find(
          (e) => (e.data as { issueKey?: unknown }).issueKey === key,
        );
      const issue = last ? issueFromEvent(last) : undefined;
      if (issue) return issue;
    } catch (error) {
      this.#d.logger.debug({ err: error, issueKey: key }, 'could not look up the issue');
    }
    return { key, project: key.split('-')[0] ?? key, fields: {} };
  }
}

function gone(pipeline: string): [string, string] {
  return [`pipeline "${pipeline}" is no longer defined`, Codes.UNKNOWN_PIPELINE];
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
