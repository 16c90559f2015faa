// `switchyard pipeline list|runs|logs|run`: thin calls to the pipeline plugin's operator routes
// (/webhooks/pipeline/…, which the runner guards with the API token). Field names follow the
// plugin's answers in plugins/pipeline/src/routes.ts.
import { clientFromOptions } from '../../client.js';
import { RunnerError, RunnerErrorCodes } from '../../errors.js';
import { createIo, type GlobalOptions } from '../io.js';

const BASE = '/webhooks/pipeline';

interface PipelineInfo {
  name: string;
  file?: string;
  description?: string;
  stages?: Array<{ name: string }>;
}

interface RunInfo {
  id: string;
  pipeline: string;
  issueKey?: string;
  status: string;
  reason?: string;
}

/**
 * Calls a pipeline route. The runner's own 404 (no such route: the daemon has no pipeline plugin)
 * is told apart from the plugin's (no such pipeline or run) by its code.
 */
async function call(
  g: GlobalOptions,
  method: 'GET' | 'POST',
  path: string,
  options: Parameters<ReturnType<typeof clientFromOptions>['send']>[2] = {},
): Promise<unknown> {
  const client = clientFromOptions(g);
  const { status, body } = await client.send(method, `${BASE}${path}`, options);
  if (status >= 200 && status < 300) return body;
  const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
  if (status === 404 && code === RunnerErrorCodes.RUNNER_NOT_FOUND) {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_REQUEST_FAILED,
      `the daemon at ${client.url} has no pipeline plugin loaded (no route ${method} ${BASE}${path}); add "pipeline:" under plugins: and the pipeline files under pipelines: in its config`,
    );
  }
  throw client.failure(status, body, `${method} ${BASE}${path}`);
}

export async function pipelineList(g: GlobalOptions): Promise<void> {
  const io = createIo(g);
  const body = (await call(g, 'GET', '/pipelines')) as { pipelines?: PipelineInfo[] };
  if (io.json) return io.printJson(body);
  const list = body?.pipelines ?? [];
  if (list.length === 0) return io.out('no pipelines loaded');
  for (const p of list) {
    io.out(`${io.paint.bold(p.name)}  ${io.paint.dim(p.file ?? '')}`.trimEnd());
    const stages = (p.stages ?? []).map((s) => s.name).join(' → ');
    if (stages) io.out(`    ${stages}`);
  }
}

export async function pipelineRuns(
  g: GlobalOptions,
  opts: { pipeline?: string; issue?: string; limit?: number },
): Promise<void> {
  const io = createIo(g);
  const body = (await call(g, 'GET', '/runs', {
    query: { pipeline: opts.pipeline, issue: opts.issue, limit: opts.limit },
  })) as { runs?: RunInfo[] };
  if (io.json) return io.printJson(body);
  const runs = body?.runs ?? [];
  if (runs.length === 0) return io.out('no runs');
  for (const r of runs) {
    io.out(
      `${io.paint.bold(r.id)}  ${r.pipeline}  ${r.issueKey ?? '-'}  ${r.status}${r.reason ? `  ${io.paint.dim(r.reason)}` : ''}`,
    );
  }
}

export async function pipelineLogs(g: GlobalOptions, run: string, opts: { step?: string }): Promise<void> {
  const io = createIo(g);
  const body = await call(g, 'GET', '/logs', { query: { run, step: opts.step } });
  // The plugin answers plain text (the log files as they are).
  const log = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body, null, 2);
  if (io.json) return io.printJson({ run, ...(opts.step !== undefined ? { step: opts.step } : {}), log });
  if (log === '') return io.out(io.paint.dim('(no output yet)'));
  process.stdout.write(log.endsWith('\n') ? log : `${log}\n`);
}

export async function pipelineRun(g: GlobalOptions, name: string, opts: { issue?: string }): Promise<void> {
  const io = createIo(g);
  const body = (await call(g, 'POST', '/runs', {
    body: { pipeline: name, ...(opts.issue ? { issueKey: opts.issue } : {}), requestedBy: 'switchyard cli' },
  })) as { runId?: string };
  if (typeof body?.runId !== 'string') {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_REQUEST_FAILED,
      `POST ${BASE}/runs answered without a run id; is the daemon's pipeline plugin as new as this CLI?`,
    );
  }
  if (io.json) return io.printJson(body);
  io.out(`started run ${body.runId} of ${name}${opts.issue ? ` for ${opts.issue}` : ''}`);
}
