import type { SwitchyardEvent } from '@switchyard/core';
import { clientFromOptions } from '../../client.js';
import { createIo, type GlobalOptions, type Io } from '../io.js';
import type { EventsOpts } from '../program.js';

const POLL_MS = 1000;

export function eventLine(e: SwitchyardEvent, io: Io): string {
  return [
    io.paint.dim(e.time),
    io.paint.cyan(e.type.padEnd(20)),
    e.id,
    e.subject ?? '-',
    io.paint.dim(e.source),
  ].join('  ');
}

export async function eventsCommand(g: GlobalOptions, opts: EventsOpts): Promise<void> {
  const io = createIo(g);
  const client = clientFromOptions(g);
  const query = {
    type: opts.type,
    subject: opts.subject,
    correlation: opts.correlation,
    since: opts.since,
  };
  // Newest `limit` events, shown oldest first.
  const first = (await client.call('GET', '/events', {
    query: { ...query, limit: opts.limit, order: 'desc' },
  })) as {
    events: SwitchyardEvent[];
  };
  const events = first.events.reverse();
  const print = (e: SwitchyardEvent) => (io.json ? io.out(JSON.stringify(e)) : io.out(eventLine(e, io)));
  if (io.json && !opts.follow) io.printJson(events);
  else events.forEach(print);
  if (!opts.follow) return;

  const seen = new Set(events.map((e) => e.id));
  let since = events.at(-1)?.time ?? new Date().toISOString();
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  while (!stopped) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (stopped) break;
    const next = (await client.call('GET', '/events', { query: { ...query, since, limit: 1000 } })) as {
      events: SwitchyardEvent[];
    };
    for (const e of next.events) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      print(e);
      if (e.time > since) since = e.time;
    }
    if (seen.size > 10_000) {
      // Only ids at or after `since` can come back; forget the rest.
      for (const id of seen) if (seen.size > 5_000) seen.delete(id);
    }
  }
}
