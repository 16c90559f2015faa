// `switchyard pipeline list|runs|logs|run`: thin calls to the pipeline plugin's operator routes
// (/webhooks/pipeline/…, which the runner guards with the API token).
import { clientFromOptions } from '../../client.js';
import { createIo, type GlobalOptions } from '../io.js';

const BASE = '/webhooks/pipeline';

export async function pipelineList(g: GlobalOptions): Promise<void> {
  const io = createIo(g);
  const body = await clientFromOptions(g).call('GET', `${BASE}/pipelines`);
  if (io.json) return io.printJson(body);
  const list = ((body as { pipelines?: unknown[] })?.pipelines ?? body) as Array<Record<string, unknown>>;
  if (!Array.isArray(list) || list.length === 0) return io.out('no pipelines loaded');
  for (const p of list) {
    const stages = Array.isArray(p.stages)
      ? p.stages.map((s) => (s as { name?: string }).name ?? s).join(' → ')
      : '';
    io.out(`${io.paint.bold(String(p.name))}  ${io.paint.dim(String(p.file ?? ''))}`);
    if (stages) io.out(`    ${stages}`);
  }
}

export async function pipelineRuns(
  g: GlobalOptions,
  opts: { pipeline?: string; issue?: string; limit?: number },
): Promise<void> {
  const io = createIo(g);
  const body = await clientFromOptions(g).call('GET', `${BASE}/runs`, {
    query: { pipeline: opts.pipeline, issue: opts.issue, limit: opts.limit },
  });
  if (io.json) return io.printJson(body);
  const runs = ((body as { runs?: unknown[] })?.runs ?? body) as Array<Record<string, unknown>>;
  if (!Array.isArray(runs) || runs.length === 0) return io.out('no runs');
  for (const r of runs) {
    io.out(
      `${io.paint.bold(String(r.id ?? r.runId))}  ${r.pipeline}  ${r.issueKey ?? '-'}  ${r.status}${r.reason ? `  ${io.paint.dim(String(r.reason))}` : ''}`,
    );
  }
}

export async function pipelineLogs(g: GlobalOptions, run: string, opts: { step?: string }): Promise<void> {
  const io = createIo(g);
  const body = await clientFromOptions(g).call('GET', `${BASE}/logs`, { query: { run, step: opts.step } });
  if (io.json) return io.printJson(body);
  io.out(typeof body === 'string' ? body : JSON.stringify(body, null, 2));
}

export async function pipelineRun(g: GlobalOptions, name: string, opts: { issue?: string }): Promise<void> {
  const io = createIo(g);
  const body = (await clientFromOptions(g).call('POST', `${BASE}/runs`, {
    body: { pipeline: name, ...(opts.issue ? { issueKey: opts.issue } : {}), requestedBy: 'switchyard cli' },
  })) as { runId?: string };
  if (io.json) return io.printJson(body);
  io.out(`started run ${body.runId} of ${name}${opts.issue ? ` for ${opts.issue}` : ''}`);
}
