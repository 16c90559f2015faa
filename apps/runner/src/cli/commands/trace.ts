import type { DeliveryRecord, SwitchyardEvent } from '@switchyard/core';
import { clientFromOptions } from '../../client.js';
import type { Paint } from '../../wiring.js';
import { createIo, type GlobalOptions } from '../io.js';

export interface TraceBody {
  id: string;
  events: SwitchyardEvent[];
  deliveries: DeliveryRecord[];
}

/** The causal tree: roots are events whose cause is not in the chain; children by causationid. */
export function formatTrace(trace: TraceBody, paint: Paint): string {
  const byId = new Map(trace.events.map((e) => [e.id, e]));
  const children = new Map<string, SwitchyardEvent[]>();
  const roots: SwitchyardEvent[] = [];
  for (const e of trace.events) {
    if (e.causationid && byId.has(e.causationid)) {
      const list = children.get(e.causationid) ?? [];
      list.push(e);
      children.set(e.causationid, list);
    } else roots.push(e);
  }
  const deliveries = new Map<string, DeliveryRecord[]>();
  for (const d of trace.deliveries) {
    const list = deliveries.get(d.eventId) ?? [];
    list.push(d);
    deliveries.set(d.eventId, list);
  }
  const lines: string[] = [];
  const status = (d: DeliveryRecord) => {
    const mark =
      d.status === 'succeeded' ? paint.green('✓') : d.status === 'dead' ? paint.red('✗') : paint.yellow('…');
    const error =
      d.lastError && d.status !== 'succeeded'
        ? paint.dim(` ${d.lastError.code}: ${d.lastError.message.split('\n')[0]}`)
        : '';
    return `${mark} ${d.subscription} ${d.status} (${d.attempts} attempt${d.attempts === 1 ? '' : 's'})${error}`;
  };
  const walk = (e: SwitchyardEvent, prefix: string, last: boolean, root: boolean) => {
    const branch = root ? '' : last ? '└─ ' : '├─ ';
    const marker = e.id === trace.id ? paint.bold(' ◀') : '';
    lines.push(
      `${prefix}${branch}${paint.cyan(e.type)} ${e.id}${e.subject ? ` ${e.subject}` : ''} ${paint.dim(`${e.time} ${e.source}`)}${marker}`,
    );
    const childPrefix = root ? prefix : prefix + (last ? '   ' : '│  ');
    const kids = children.get(e.id) ?? [];
    const ds = deliveries.get(e.id) ?? [];
    ds.forEach((d, i) => {
      const lastLine = i === ds.length - 1 && kids.length === 0;
      lines.push(`${childPrefix}${lastLine ? '└╴' : '├╴'}${status(d)}`);
    });
    kids.forEach((k, i) => {
      walk(k, childPrefix, i === kids.length - 1, false);
    });
  };
  for (const r of roots) walk(r, '', true, true);
  return lines.join('\n');
}

export async function traceCommand(g: GlobalOptions, id: string): Promise<void> {
  const io = createIo(g);
  const client = clientFromOptions(g);
  const trace = (await client.call('GET', `/events/${encodeURIComponent(id)}/trace`)) as TraceBody;
  if (io.json) io.printJson(trace);
  else io.out(formatTrace(trace, io.paint));
}
