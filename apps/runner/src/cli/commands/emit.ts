import { randomUUID } from 'node:crypto';
import { clientFromOptions } from '../../client.js';
import { RunnerError, RunnerErrorCodes } from '../../errors.js';
import { createIo, type GlobalOptions, readJsonArgument } from '../io.js';

export async function emitCommand(
  g: GlobalOptions,
  type: string,
  opts: { data: string; subject?: string; source: string; id?: string },
): Promise<void> {
  const io = createIo(g);
  const data = await readJsonArgument(opts.data, '--data');
  const client = clientFromOptions(g);
  const event = {
    specversion: '1.0',
    id: opts.id ?? randomUUID(),
    source: opts.source,
    type,
    time: new Date().toISOString(),
    ...(opts.subject ? { subject: opts.subject } : {}),
    datacontenttype: 'application/json',
    data,
  };
  const { status, body } = await client.send('POST', '/events', {
    body: event,
    headers: { 'content-type': 'application/cloudevents+json' },
  });
  if (status !== 202) {
    throw status >= 200 && status < 300
      ? new RunnerError(
          RunnerErrorCodes.RUNNER_REQUEST_FAILED,
          `the daemon answered ${status}, not 202 Accepted`,
        )
      : client.failure(status, body, `emit ${type}`);
  }
  const accepted = body as { id: string; duplicate: boolean };
  if (io.json) io.printJson(accepted);
  else io.out(`${accepted.duplicate ? 'already stored' : 'accepted'} ${type} ${accepted.id}`);
}
