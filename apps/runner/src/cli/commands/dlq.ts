import type { DeadLetter } from '@switchyard/core';
import { clientFromOptions } from '../../client.js';
import { RunnerError, RunnerErrorCodes } from '../../errors.js';
import { createIo, type GlobalOptions } from '../io.js';

export async function dlqList(
  g: GlobalOptions,
  opts: { subscription?: string; type?: string; limit?: number },
): Promise<void> {
  const io = createIo(g);
  const client = clientFromOptions(g);
  const { deadLetters } = (await client.call('GET', '/dlq', {
    query: { subscription: opts.subscription, type: opts.type, limit: opts.limit },
  })) as { deadLetters: DeadLetter[] };
  if (io.json) return io.printJson(deadLetters);
  if (deadLetters.length === 0) return io.out('no dead letters');
  for (const d of deadLetters) {
    io.out(
      `${io.paint.bold(d.id)}  ${d.subscription}  ${io.paint.cyan(d.event.type)} ${d.event.id}  ${d.attempts} attempts  ${io.paint.dim(d.deadAt)}`,
    );
    io.out(`    ${io.paint.red(d.lastError.code)}: ${d.lastError.message.split('\n')[0]}`);
  }
}

export async function dlqReplay(
  g: GlobalOptions,
  id: string | undefined,
  opts: { all?: boolean; subscription?: string; type?: string },
): Promise<void> {
  const io = createIo(g);
  const filtered = Boolean(opts.all || opts.subscription || opts.type);
  if (id && filtered) {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_USAGE,
      'give either a dead letter id or --all/--subscription/--type, not both',
      {
        exitCode: 2,
      },
    );
  }
  if (!id && !filtered) {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_USAGE,
      'name what to replay: an id (see `switchyard dlq list`), --subscription <id>, --type <type> or --all',
      { exitCode: 2 },
    );
  }
  const client = clientFromOptions(g);
  const result = (
    id
      ? await client.call('POST', `/dlq/${encodeURIComponent(id)}/replay`)
      : await client.call('POST', '/dlq/replay', {
          body: {
            ...(opts.all ? { all: true } : {}),
            ...(opts.subscription ? { subscription: opts.subscription } : {}),
            ...(opts.type ? { type: opts.type } : {}),
          },
        })
  ) as { replayed: number };
  if (io.json) io.printJson(result);
  else io.out(`replayed ${result.replayed} dead letter${result.replayed === 1 ? '' : 's'}`);
}

export async function dlqDrop(g: GlobalOptions, id: string): Promise<void> {
  const io = createIo(g);
  const client = clientFromOptions(g);
  const result = (await client.call('DELETE', `/dlq/${encodeURIComponent(id)}`)) as { dropped: number };
  if (io.json) io.printJson(result);
  else io.out(`dropped ${result.dropped} dead letter${result.dropped === 1 ? '' : 's'}`);
}
