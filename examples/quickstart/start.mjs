// One command for the quickstart: starts the SANDBOX STAND-INS for Jira, DingTalk and Slack (local
// fakes from @switchyard/testing — no real SaaS is called) and the switchyard daemon on
// switchyard.yaml (SQLite store under ./data). Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureRemote, env, here, issue, repo, sandboxDir, standinBin, testing } from './sandbox.mjs';

const { FakeDingTalk, FakeHttpServer, FakeJira, FakeSlack } = await import(testing);

await ensureRemote();
mkdirSync(join(sandboxDir, 'standin'), { recursive: true });

const jira = await new FakeJira().start(18081);
jira.addIssue({
  key: issue.key,
  status: 'Ready for Development', // already where the sample webhook says it moved
  summary: issue.summary,
  fields: issue.fields,
});
const dingtalk = await new FakeDingTalk({
  accessToken: env.DINGTALK_ACCESS_TOKEN,
  secret: env.DINGTALK_SECRET,
}).start(18082);
const slack = await new FakeSlack().start(18083);
// Prometheus: a real one on :9090 if it is running, else a clearly labelled stand-in answering
// every query with an error ratio of 0.002 (below the gate's 0.01).
let prometheusUrl = 'http://127.0.0.1:9090';
let prometheus;
try {
  const res = await fetch(`${prometheusUrl}/-/ready`, { signal: AbortSignal.timeout(500) });
  if (!res.ok) throw new Error('not ready');
  console.log(`[sandbox] using the Prometheus running at ${prometheusUrl} (query: app_error_ratio)`);
} catch {
  prometheus = await new FakeHttpServer((req) =>
    req.path === '/api/v1/query'
      ? {
          status: 200,
          body: {
            status: 'success',
            data: {
              resultType: 'vector',
              result: [
                {
                  metric: { __name__: 'app_error_ratio', sandbox: 'stand-in' },
                  value: [Date.now() / 1000, '0.002'],
                },
              ],
            },
          },
        }
      : { status: 404, body: { status: 'error', error: 'sandbox stand-in serves /api/v1/query only' } },
  ).start(18084);
  prometheusUrl = prometheus.url;
  console.log(
    `[sandbox] no Prometheus at :9090 — STAND-IN Prometheus ${prometheusUrl} answers app_error_ratio = 0.002`,
  );
}
console.log(`[sandbox] stand-in Jira     ${jira.url}  (issue ${issue.key})`);
console.log(`[sandbox] stand-in DingTalk http://127.0.0.1:18082/robot/send`);
console.log(`[sandbox] stand-in Slack    ${slack.url}`);

// Report what reaches the stand-ins, so the chain is visible without a real Jira or chat.
const seen = new Map();
function report(name, requests) {
  const from = seen.get(name) ?? 0;
  for (const r of requests.slice(from)) {
    const body = r.rawBody.toString('utf8');
    console.log(
      `[sandbox ${name}] ${r.method} ${r.path} ${body.length > 160 ? `${body.slice(0, 160)}…` : body}`,
    );
  }
  seen.set(name, requests.length);
}
const timer = setInterval(() => {
  report('jira', jira.requests);
  report('dingtalk', dingtalk.server.requests);
  report('slack', slack.requests);
}, 300);

const daemon = spawn(
  process.execPath,
  [join(repo, 'apps/runner/dist/cli.js'), 'run', '--config', join(here, 'switchyard.yaml')],
  {
    env: {
      ...process.env,
      ...env,
      PROMETHEUS_URL: prometheusUrl,
      PIPELINE_WORKDIR: join(sandboxDir, 'pipelines'),
      STANDIN_DIR: join(sandboxDir, 'standin'),
      PATH: `${standinBin}:${process.env.PATH}`,
    },
    stdio: 'inherit',
  },
);
console.log(
  '[sandbox] switchyard daemon starting on http://127.0.0.1:8080 — send the sample webhook with: pnpm quickstart:webhook',
);

async function stop(signal) {
  clearInterval(timer);
  daemon.kill(signal);
  await Promise.allSettled([jira.stop(), dingtalk.stop(), slack.stop(), prometheus?.stop()]);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
daemon.on('exit', async (code) => {
  await stop('SIGTERM');
  process.exit(code ?? 0);
});
