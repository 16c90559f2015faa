// Why a run or step was stopped: the reason given to AbortController.abort().

export type AbortKind = 'step-timeout' | 'run-timeout' | 'cancel' | 'shutdown';

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

export function isShutdown(signal: AbortSignal): boolean {
  return abortOf(signal)?.kind === 'shutdown';
}
