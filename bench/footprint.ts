// Footprint: start → ready and idle RSS, side by side in one run, median of several starts each:
// - the daemon (built CLI, SQLite store) with every plugin configured — jira, dingtalk, slack against
//   @switchyard/testing's fakes, prometheus against a stub, pipeline with the feature-driven
//   pipeline file — and two rules; ready = spawn → first 200 from GET /readyz;
// - Node-RED 4 with its http in → function → http response flow; ready = first 200 from its http-in;
// - a bare node:http server (bench/ingest-raw-server.mjs), the floor.
// Idle RSS is VmRSS from /proc after the process has sat idle for BENCH_IDLE_MS (default 2 s). CPU
// to ready is user + system time when the process was found ready, of its main thread (what the
// start waits for) and of all its threads (GC, compiler and libuv threads too): the figures to
// compare on a shared machine, where wall time swings with the neighbours' load.
//
//   pnpm build && node bench/footprint.ts   # BENCH_STARTS=5 BENCH_IDLE_MS=2000
//   BENCH_PROFILE_DIR=/tmp/prof also writes a --cpu-prof of each daemon start (until it is stopped).
//   BENCH_BASE=/path/to/other/checkout (built) adds target `daemon-base`: that tree's daemon, same
//   config, interleaved with the others (A/B on a shared, noisy machine), as in webhook-ingest.ts.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKE_SLACK_DEFAULT_WEBHOOK, FakeDingTalk, FakeJira, FakeSlack } from '@switchyard/testing';
import { machine, median, printTable } from './lib.ts';
import {
  CLI,
  ensureNodeRed,
  fmt,
  freePort,
  loadAverage,
  nodeRedVersion,
  rssMb,
  type Started,
  startNodeRed,
  startRaw,
  stop,
  track,
  WEBHOOK_SECRET,
  waitForOk,
} from './webhook-lib.ts';

const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 2000);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;

const BASE = process.env.BENCH_BASE;

type Target = 'raw' | 'daemon' | 'daemon-base' | 'node-red';
const TARGETS: Target[] = (
  process.env.BENCH_TARGETS ?? `raw,daemon,${BASE ? 'daemon-base,' : ''}node-red`
).split(',') as Target[];
if (TARGETS.includes('daemon-base') && !BASE) {
  throw new Error('target daemon-base needs BENCH_BASE=/path/to/a/built/checkout');
}

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

/** utime + stime in ms from /proc/<pid>/stat (all threads) or /proc/<pid>/task/<pid>/stat (main). */
function cpuTimeMs(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
// USER_HZ: 100 on every Linux build Node supports (sysconf(_SC_CLK_TCK) is not reachable from Node).
const CLOCK_TICKS = 100;

interface Sample {
  readyMs: number;
  /** CPU time (user + system) the process had used when it was found ready: main thread, all. */
  mainCpuMs: number;
  cpuMs: number;
  rss: number;
}

/** `switchyard run` from the given built CLI; ready = spawn → first 200 from /readyz. */
async function startDaemonAt(
  cli: string,
  dir: string,
  port: number,
  yaml: string,
  args: string[],
): Promise<Started> {
  const config = join(dir, 'switchyard.yaml');
  writeFileSync(config, yaml);
  const started = performance.now();
  const child = track(
    spawn(process.execPath, [...args, cli, 'run', '--config', config], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/readyz`, 30_000, child);
  return { child, url, readyMs: performance.now() - started };
}

async function startOne(target: Target, dir: string, fakes: Fakes, index: number): Promise<Started> {
  const port = await freePort();
  if (target === 'raw') return startRaw();
  if (target === 'node-red') return startNodeRed(dir, port);
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines/feature-driven-deployment.yaml'), PIPELINE);
  const args = PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${target}-start-${index}.cpuprofile`]
    : [];
  const cli = target === 'daemon-base' ? join(BASE!, 'apps/runner/dist/cli.js') : CLI;
  return startDaemonAt(cli, dir, port, daemonYaml(port, fakes), args);
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
          const mainCpuMs = cpuTimeMs(server.child.pid!, true);
          const cpuMs = cpuTimeMs(server.child.pid!);
          await new Promise((r) => setTimeout(r, IDLE_MS));
          const rss = rssMb(server.child.pid!);
          await stop(server.child);
          samples.get(target)!.push({ readyMs: server.readyMs, mainCpuMs, cpuMs, rss });
          line.push(
            `${target} ${fmt(server.readyMs)} ms (cpu ${fmt(mainCpuMs)}/${fmt(cpuMs)}) ${rss.toFixed(1)} MB`,
          );
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
    'daemon-base': `base tree's switchyard run, same config (${BASE})`,
    'node-red': 'Node-RED (http in → function → http response)',
  };
  const m = (t: Target, k: keyof Sample) => median(samples.get(t)!.map((s) => s[k]));
  console.log('');
  printTable(
    [
      'process',
      'start→ready ms (median)',
      'CPU ms to ready, main thread / all (median)',
      'idle RSS MB (median)',
      'all starts ms',
      'all RSS MB',
    ],
    TARGETS.map((t) => [
      label[t],
      fmt(m(t, 'readyMs')),
      `${fmt(m(t, 'mainCpuMs'))} / ${fmt(m(t, 'cpuMs'))}`,
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
      `\ndaemon start→ready ${fmt(m('daemon', 'readyMs'))} ms (goal ≤ 250) · idle RSS ${m('daemon', 'rss').toFixed(1)} MB (goal ≤ 90)${samples.has('daemon-base') ? ` · base ${fmt(m('daemon-base', 'readyMs'))} ms (main-thread CPU ${fmt(m('daemon-base', 'mainCpuMs'))} vs ${fmt(m('daemon', 'mainCpuMs'))}), ${m('daemon-base', 'rss').toFixed(1)} MB` : ''}${samples.has('node-red') ? ` · vs Node-RED ${fmt(m('node-red', 'readyMs'))} ms, ${m('node-red', 'rss').toFixed(1)} MB` : ''} · load average at end ${loadAverage()}`,
    );
  }
}

await main();
process.exit(0);
