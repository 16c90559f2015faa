// Footprint: start → ready and idle RSS, side by side in one run, median of several starts each:
// - the daemon (built CLI, SQLite store) with every plugin configured — jira, dingtalk, slack against
//   @switchyard/testing's fakes, prometheus against a stub, pipeline with the feature-driven
//   pipeline file — and two rules; ready = spawn → first 200 from GET /readyz;
// - Node-RED 4 with its http in → function → http response flow; ready = first 200 from its http-in;
// - a bare node:http server (bench/ingest-raw-server.mjs), the floor.
// Idle RSS is VmRSS from /proc after the process has sat idle for BENCH_IDLE_MS (default 2 s).
//
//   pnpm build && node bench/footprint.ts   # BENCH_STARTS=5 BENCH_IDLE_MS=2000
//   BENCH_PROFILE_DIR=/tmp/prof also writes a --cpu-prof of each daemon start (start-up only).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKE_SLACK_DEFAULT_WEBHOOK, FakeDingTalk, FakeJira, FakeSlack } from '@switchyard/testing';
import { machine, median, printTable } from './lib.ts';
import {
  ensureNodeRed,
  fmt,
  freePort,
  loadAverage,
  nodeRedVersion,
  rssMb,
  type Started,
  startDaemon,
  startNodeRed,
  startRaw,
  stop,
  WEBHOOK_SECRET,
} from './webhook-lib.ts';

const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 2000);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;

type Target = 'raw' | 'daemon' | 'node-red';
const TARGETS: Target[] = (process.env.BENCH_TARGETS ?? 'raw,daemon,node-red').split(',') as Target[];

const PIPELINE = `pipeline:
  name: feature-driven-deployment
  triggers:
    - type: jira-issue
      event: issue-transition
      status: "Ready for Development"
      project: "PROJ"
  stages:
    - name: code-checkout
      steps:
        - type: git-checkout
          repository: "{{ .issue.fields.customfield_10001 }}"
          branch: "feature/{{ .issue.key }}"
    - name: build-test
      steps:
        - type: build
          command: "mvn clean package"
        - type: test
          command: "mvn test"
    - name: deploy-dev
      steps:
        - type: k8s-deploy
          manifest: "k8s/dev/"
          namespace: "dev-{{ .issue.key | lower }}"
    - name: update-jira
      steps:
        - type: jira-update
          issue: "{{ .issue.key }}"
          status: "In Development"
          comment: "Deployment to dev environment completed"
`;

interface Fakes {
  jira: FakeJira;
  slack: FakeSlack;
  dingtalk: FakeDingTalk;
  prometheusUrl: string;
  stop: () => Promise<void>;
}

async function startFakes(): Promise<Fakes> {
  const jira = await new FakeJira().start();
  const slack = new FakeSlack();
  await slack.start();
  const dingtalk = await new FakeDingTalk({ accessToken: 'bench-access-token', secret: 'SECbench' }).start();
  // Prometheus only needs to exist at its URL: nothing queries it while the daemon idles.
  const prometheus = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
  });
  await new Promise<void>((r) => prometheus.listen(0, '127.0.0.1', r));
  const address = prometheus.address() as { port: number };
  return {
    jira,
    slack,
    dingtalk,
    prometheusUrl: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await Promise.all([jira.stop(), slack.stop(), dingtalk.stop()]);
      await new Promise((r) => prometheus.close(r));
    },
  };
}

function daemonYaml(port: number, fakes: Fakes): string {
  return [
    `server: { host: 127.0.0.1, port: ${port} }`,
    'store: { kind: sqlite, path: ./data/footprint.db }',
    'log: { level: warn }',
    'plugins:',
    '  jira:',
    '    options:',
    `      baseUrl: ${fakes.jira.url}`,
    '      email: switchyard@example.com',
    '      token: fake-jira-api-token',
    `      webhookSecret: ${WEBHOOK_SECRET}`,
    '  dingtalk:',
    `    options: { webhook: "${fakes.dingtalk.webhook}", secret: SECbench }`,
    '  prometheus:',
    `    options: { url: "${fakes.prometheusUrl}" }`,
    '  slack:',
    `    options: { webhookUrl: "${fakes.slack.url}${FAKE_SLACK_DEFAULT_WEBHOOK}" }`,
    '  pipeline:',
    '    options: { workdir: ./work }',
    'pipelines: [ ./pipelines/feature-driven-deployment.yaml ]',
    'rules:',
    '  - name: tell-slack',
    '    on: IssueTransitioned',
    '    do:',
    '      - action: slack.post',
    '        with: { text: "{{ .data.issueKey }} moved to {{ .data.toStatus }}" }',
    '  - name: tell-dingtalk',
    '    on: DeploymentCompleted',
    '    if: data.outcome == "succeeded"',
    '    do:',
    '      - action: dingtalk.send',
    '        with: { msgtype: text, text: "{{ .data.service }} {{ .data.version }} deployed" }',
    '',
  ].join('\n');
}

interface Sample {
  readyMs: number;
  rss: number;
}

async function startOne(target: Target, dir: string, fakes: Fakes, index: number): Promise<Started> {
  const port = await freePort();
  if (target === 'raw') return startRaw();
  if (target === 'node-red') return startNodeRed(dir, port);
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines/feature-driven-deployment.yaml'), PIPELINE);
  const args = PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=daemon-start-${index}.cpuprofile`]
    : [];
  return startDaemon(dir, port, daemonYaml(port, fakes), args);
}

async function main(): Promise<void> {
  if (TARGETS.includes('node-red')) ensureNodeRed();
  console.log(
    `# Footprint · ${machine()} · load average ${loadAverage()} · ${STARTS} starts each · idle ${IDLE_MS} ms before RSS · Node-RED ${TARGETS.includes('node-red') ? nodeRedVersion() : '-'}`,
  );
  const fakes = await startFakes();
  const samples = new Map<Target, Sample[]>(TARGETS.map((t) => [t, []]));
  try {
    for (let i = 0; i < STARTS; i++) {
      const order = TARGETS.map((_, k) => TARGETS[(k + i) % TARGETS.length]!);
      const line: string[] = [];
      for (const target of order) {
        const dir = mkdtempSync(join(tmpdir(), `sy-bench-footprint-${target}-`));
        try {
          const server = await startOne(target, dir, fakes, i);
          await new Promise((r) => setTimeout(r, IDLE_MS));
          const rss = rssMb(server.child.pid!);
          await stop(server.child);
          samples.get(target)!.push({ readyMs: server.readyMs, rss });
          line.push(`${target} ${fmt(server.readyMs)} ms ${rss.toFixed(1)} MB`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      console.log(`start ${i + 1} (load ${loadAverage()}): ${line.join(' · ')}`);
    }
  } finally {
    await fakes.stop();
  }
  const label: Record<Target, string> = {
    raw: 'bare node:http server (floor)',
    daemon: 'switchyard run, SQLite, all 5 plugins + 2 rules + 1 pipeline',
    'node-red': 'Node-RED (http in → function → http response)',
  };
  const m = (t: Target, k: keyof Sample) => median(samples.get(t)!.map((s) => s[k]));
  console.log('');
  printTable(
    ['process', 'start→ready ms (median)', 'idle RSS MB (median)', 'all starts ms', 'all RSS MB'],
    TARGETS.map((t) => [
      label[t],
      fmt(m(t, 'readyMs')),
      m(t, 'rss').toFixed(1),
      samples
        .get(t)!
        .map((s) => fmt(s.readyMs))
        .join(' / '),
      samples
        .get(t)!
        .map((s) => s.rss.toFixed(0))
        .join(' / '),
    ]),
  );
  if (samples.has('daemon')) {
    console.log(
      `\ndaemon start→ready ${fmt(m('daemon', 'readyMs'))} ms (goal ≤ 250) · idle RSS ${m('daemon', 'rss').toFixed(1)} MB (goal ≤ 90)${samples.has('node-red') ? ` · vs Node-RED ${fmt(m('node-red', 'readyMs'))} ms, ${m('node-red', 'rss').toFixed(1)} MB` : ''} · load average at end ${loadAverage()}`,
    );
  }
}

await main();
process.exit(0);
