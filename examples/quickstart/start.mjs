// One command for the quickstart: starts the SANDBOX STAND-INS for Jira, DingTalk and Slack (local
// fakes from @switchyard/testing — no real SaaS is called) and the switchyard daemon on
// switchyard.yaml (SQLite store under ./data). Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { env, here, issue, repo, testing } from './sandbox.mjs';

const { FakeDingTalk, FakeJira, FakeSlack } = await import(testing);

const jira = await new FakeJira().start(18081);
jira.addIssue({
  key: issue.key,
  status: 'To Do',
  summary: issue.summary,
  fields: { summary: issue.summary },
});
const dingtalk = await new FakeDingTalk({
  accessToken: env.DINGTALK_ACCESS_TOKEN,
  secret: env.DINGTALK_SECRET,
}).start(18082);
const slack = await new FakeSlack().start(18083);
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
    env: { ...process.env, ...env },
    stdio: 'inherit',
  },
);
console.log(
  '[sandbox] switchyard daemon starting on http://127.0.0.1:8080 — send the sample webhook with: pnpm quickstart:webhook',
);

async function stop(signal) {
  clearInterval(timer);
  daemon.kill(signal);
  await Promise.allSettled([jira.stop(), dingtalk.stop(), slack.stop()]);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
daemon.on('exit', async (code) => {
  await stop('SIGTERM');
  process.exit(code ?? 0);
});
