// Why a run or step was stopped: the reason given to AbortController.abort().

// `shutdown` (this runner stops) and `lost` (this runner's lease ran out, another runner takes the
// run over) both mean: kill the steps and write nothing more to the run.
export type AbortKind = 'step-timeout' | 'run-timeout' | 'cancel' | 'shutdown' | 'lost';

export class RunAbort extends Error {
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
    this.name = 'RunAbort';
  }
}

export function abortOf(signal: AbortSignal): RunAbort | undefined {
  return signal.aborted && signal.reason instanceof RunAbort ? signal.reason : undefined;
}

/** The runner let go of the run (stopping, or its lease lost): nothing more is recorded. */
export function isShutdown(signal: AbortSignal): boolean {
  const kind = abortOf(signal)?.kind;
  return kind === 'shutdown' || kind === 'lost';
}
