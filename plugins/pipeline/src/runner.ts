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
import type { PipelineDefinition, Scope, StageDefinition, StepDefinition } from './load.js';
import type { PipelineOptions } from './options.js';
import { runProcess, StepLog } from './process.js';
import { runnerFor, type StepContext } from './steps/index.js';
import type { IssueScope, RunRecord, RunStore, StageRecord, StepRecord } from './store.js';
import { issueFromEvent, issueKeysOf, type TriggerMatch, triggerLabel, triggerScope } from './triggers.js';

// The run state machine. A run is recorded as `queued`, becomes `running` once PipelineStarted is
// published, and ends `succeeded`, `failed` or `cancelled` with a PipelineCompleted. Runs with the
// same key (pipeline + issue) run one at a time: later ones wait in order, or with
// `concurrency: replace` the running one is cancelled. On shutdown the steps are killed and the
// record is left `running`; the next start() ends such runs as failed, reason "interrupted".

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
  controller: AbortController;
  done: Promise<void>;
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
};

export class RunManager {
  readonly #d: RunManagerDeps;
  readonly #queues = new Map<string, string[]>();
  readonly #active = new Map<string, Active>();
  readonly #shutdown = new AbortController();
  /** Run ids between claiming their trigger and recording the run. */
  readonly #claiming = new Set<string>();
  #stopping = false;

  constructor(deps: RunManagerDeps) {
    this.#d = deps;
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
      if (this.#claiming.has(existing) || (await store.get(existing)))
        return { runId: existing, created: false };
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
    await store.save(run);
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

  /** At start: ends runs a previous process left running (reason "interrupted"); restarts queued ones. */
  async recover(): Promise<void> {
    const { store, logger } = this.#d;
    const queued: RunRecord[] = [];
    for (const run of await store.list()) {
      if (run.pendingCompletion && run.started) {
        await this.#publishCompletion(run, run.started).catch((error) =>
          logger.error({ runId: run.id, err: error }, 'could not publish PipelineCompleted'),
        );
      }
      if (run.status === 'queued') queued.push(run);
      if (run.status !== 'running') continue;
      try {
        await this.#endInterrupted(run);
      } catch (error) {
        logger.error({ runId: run.id, err: error }, 'could not end an interrupted run');
      }
    }
    for (const run of queued) {
      const pipeline = this.#d.pipelines.get(run.pipeline);
      if (pipeline) await this.#enqueue(run, pipeline);
      else
        await this.#finishUnstarted(
          run,
          'failed',
          `pipeline "${run.pipeline}" is no longer defined`,
          Codes.UNKNOWN_PIPELINE,
        );
    }
  }

  /** Kills every running step and waits (bounded) for the runs to notice; records stay `running`. */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    const reason = new RunAbort('shutdown', 'the runner is stopping');
    this.#shutdown.abort(reason);
    const active = [...this.#active.values()];
    for (const a of active) a.controller.abort(reason);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(active.map((a) => a.done)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Ids of the runs executing now. */
  activeRuns(): string[] {
    return [...this.#active.values()].map((a) => a.id);
  }

  async #enqueue(run: RunRecord, pipeline: PipelineDefinition): Promise<void> {
    let queue = this.#queues.get(run.key);
    if (!queue) {
      queue = [];
      this.#queues.set(run.key, queue);
    }
    if (pipeline.concurrency === 'replace') {
      const dropped = queue.splice(0);
      const active = this.#active.get(run.key);
      if (active && !active.controller.signal.aborted) {
        this.#d.logger.info(
          { runId: active.id, by: run.id },
          `cancelling run ${active.id}: replaced by run ${run.id}`,
        );
        active.controller.abort(new RunAbort('cancel', `replaced by run ${run.id}`));
      }
      queue.push(run.id);
      for (const id of dropped) {
        const old = await this.#d.store.get(id);
        if (old?.status === 'queued')
          await this.#finishUnstarted(old, 'cancelled', `replaced by run ${run.id}`, Codes.CANCELLED);
      }
    } else {
      queue.push(run.id);
    }
    this.#kick(run.key);
  }

  #kick(key: string): void {
    if (this.#stopping || this.#active.has(key)) return;
    const id = this.#queues.get(key)?.shift();
    if (id === undefined) {
      this.#queues.delete(key);
      return;
    }
    const controller = new AbortController();
    const active: Active = { id, controller, done: Promise.resolve() };
    this.#active.set(key, active);
    active.done = this.#execute(id, controller)
      .catch((error) => this.#d.logger.error({ runId: id, err: error }, `pipeline run ${id} crashed`))
      .finally(() => {
        this.#active.delete(key);
        this.#kick(key);
      });
  }

  async #execute(id: string, controller: AbortController): Promise<void> {
    const { store, bus, clock, options, logger } = this.#d;
    const run = await store.get(id);
    if (run?.status !== 'queued') return;
    const pipeline = this.#d.pipelines.get(run.pipeline);
    if (!pipeline) {
      await this.#finishUnstarted(
        run,
        'failed',
        `pipeline "${run.pipeline}" is no longer defined`,
        Codes.UNKNOWN_PIPELINE,
      );
      return;
    }
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
        if (isShutdown(signal) || this.#stopping) return;
        const runStopped = signal.aborted;
        if ((failure || runStopped) && !stage.always) {
          record.status = 'skipped';
          for (const s of record.steps) s.status = 'skipped';
          await this.#stageCompleted(run, started, record, 'skipped', 0);
          continue;
        }
        // An `always` stage after a timeout or cancel runs under its own step timeouts only.
        const stageSignal = runStopped ? this.#shutdown.signal : signal;
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
          if (isShutdown(stageSignal) || this.#stopping) return;
        }
        record.status = stageFailure ? 'failed' : 'succeeded';
        record.durationMs = clock.now() - s0;
        failure ??= stageFailure;
        await this.#stageCompleted(run, started, record, record.status, record.durationMs, stageFailure);
      }
    } finally {
      cancelRunTimer();
    }
    if (this.#stopping) return;

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
    await this.#prune();
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
      if (abort?.kind === 'shutdown') {
        log.note('the runner is stopping; the step was killed');
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
    const message = 'interrupted: the runner stopped while this step ran';
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

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
