// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} and ${file:…} are config syntax here
// Faults from the fakes, and secrets. One daemon (built CLI, SQLite) with Jira, Slack and DingTalk
// rules against the fakes, which answer 429 + Retry-After, 5xx, slowly (past the plugin timeout),
// reset the connection, or throttle (DingTalk's flow control). Every delivery ends delivered or
// dead-lettered with a reason (GET /dlq shows lastError), and the daemon never exits.
// Every secret is recognisable (contains SECRET_MARK) and comes in through ${env:…}/${file:…}; no
// log line, API answer, DLQ entry, metric or CLI output (check, events, trace, dlq list, plugins,
// a check of a broken config) may contain one.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DINGTALK_ERRORS, FakeDingTalk, FakeJira, FakeSlack } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  type ApiResponse,
  type DaemonProcess,
  runCli,
  spawnDaemon,
  tempDir,
  waitFor,
  writeConfig,
} from '../support/daemon.js';

const SECRET_MARK = '7f3a9c';
const SECRETS = {
  api: `SECRET-api-token-${SECRET_MARK}`,
  jiraToken: `SECRET-jira-token-${SECRET_MARK}`,
  jiraWebhook: `SECRET-jira-webhook-${SECRET_MARK}`,
  slackHookPath: `/services/T000/B000/SECRET-slack-hook-${SECRET_MARK}`,
  slackSigning: `SECRET-slack-signing-${SECRET_MARK}`,
  dingtalkAccess: `SECRET-dingtalk-access-${SECRET_MARK}`,
  dingtalkSign: `SECSECRET-dingtalk-sign-${SECRET_MARK}`,
};

interface Delivery {
  eventId: string;
  subscription: string;
  status: string;
  attempts: number;
  lastError?: { code: string; message: string; retryable: boolean };
}
interface DeadLetter {
  id: string;
  subscription: string;
  event: { id: string };
  attempts: number;
  lastError: { code: string; message: string; retryable: boolean };
}

describe('faults from the fakes; secrets never leak', () => {
  const jira = new FakeJira({ auth: { email: 'bot@example.com', token: SECRETS.jiraToken } });
  const slack = new FakeSlack({ webhooks: { [SECRETS.slackHookPath]: 'C0000000001' } });
  const dingtalk = new FakeDingTalk({
    accessToken: SECRETS.dingtalkAccess,
    secret: SECRETS.dingtalkSign,
    ratePerMinute: 4,
  });
  let daemon: DaemonProcess;
  let api: Api;
  let dir: string;
  let config: string;
  let env: Record<string, string>;
  /** Everything the API answered, for the secrets scan. */
  const answers: string[] = [];
  /** Everything the CLI printed, for the secrets scan. */
  const cliOutput: string[] = [];
  const ids: Record<string, string> = {};

  const get = async <T>(path: string): Promise<ApiResponse<T>> => {
    const res = await api.get<T>(path);
    answers.push(`${path} → ${res.status} ${res.text}`);
    return res;
  };

  const post = async (scenario: string, service: string, subject = 'FLT-1') => {
    const id = randomUUID();
    ids[scenario] = id;
    const res = await api.postEvent({
      specversion: '1.0',
      id,
      source: 'e2e/faults',
      type: 'DeploymentCompleted',
      subject,
      data: {
        service,
        environment: 'production',
        version: '1.0.0',
        outcome: 'succeeded',
        issueKeys: [subject],
      },
    });
    answers.push(res.text);
    expect(res.status).toBe(202);
    return id;
  };

  /** Waits until the scenario's delivery has ended (succeeded or dead) and returns it. */
  const settled = async (scenario: string, subscription: string, timeoutMs = 30_000): Promise<Delivery> =>
    waitFor(
      async () => {
        const res = await get<{ deliveries: Delivery[] }>(`/events/${ids[scenario]}/trace`);
        const d = res.body.deliveries.find((x) => x.subscription === subscription);
        return d && (d.status === 'succeeded' || d.status === 'dead') ? d : undefined;
      },
      timeoutMs,
      `${scenario} settled`,
      100,
    );

  const hasId = (scenario: string) => (req: { rawBody: Buffer }) =>
    req.rawBody.toString('utf8').includes(ids[scenario]!);

  beforeAll(async () => {
    await Promise.all([jira.start(), slack.start(), dingtalk.start()]);
    jira.addIssue({ key: 'FLT-1' });
    dir = tempDir('sy-faults-');
    writeFileSync(join(dir, 'jira-token'), `${SECRETS.jiraToken}\n`);
    writeFileSync(join(dir, 'dingtalk-secret'), SECRETS.dingtalkSign);
    env = {
      SY_TOKEN: SECRETS.api,
      JIRA_WEBHOOK_SECRET: SECRETS.jiraWebhook,
      SLACK_WEBHOOK_URL: slack.webhookUrl(SECRETS.slackHookPath),
      SLACK_SIGNING_SECRET: SECRETS.slackSigning,
      DINGTALK_WEBHOOK: dingtalk.webhook,
    };
    const rule = (name: string, service: string, action: string, withText: string, maxAttempts = 4) => [
      `  - name: ${name}`,
      '    on: DeploymentCompleted',
      `    if: data.service == "${service}"`,
      `    maxAttempts: ${maxAttempts}`,
      '    timeout: 10s',
      '    concurrency: 4',
      '    do:',
      `      - action: ${action}`,
      `        with: ${withText}`,
    ];
    config = writeConfig(
      dir,
      [
        'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TOKEN}, shutdownTimeout: 5s }',
        'store: { kind: sqlite, path: ./data/switchyard.db }',
        'plugins:',
        `  jira: { options: { baseUrl: "${jira.url}", email: bot@example.com, token: \${file:jira-token}, webhookSecret: \${env:JIRA_WEBHOOK_SECRET}, timeoutMs: 500 } }`,
        '  slack: { options: { webhookUrl: ${env:SLACK_WEBHOOK_URL}, signingSecret: ${env:SLACK_SIGNING_SECRET}, timeoutMs: 500, minIntervalMs: 0 } }',
        '  dingtalk: { options: { webhook: ${env:DINGTALK_WEBHOOK}, secret: ${file:dingtalk-secret}, timeoutMs: 500 } }',
        'rules:',
        ...rule('jira-note', 'jira', 'jira.comment', '{ issue: "{{ .subject }}", body: "fault {{ .id }}" }'),
        ...rule('slack-note', 'slack', 'slack.post', '{ text: "fault {{ .id }}" }'),
        ...rule('dingtalk-note', 'dingtalk', 'dingtalk.send', '{ msgtype: text, text: "fault {{ .id }}" }'),
        ...rule(
          'dingtalk-burst',
          'dingtalk-burst',
          'dingtalk.send',
          '{ msgtype: text, text: "burst {{ .id }}" }',
          1,
        ),
        'log: { level: debug }',
      ].join('\n'),
    );
    daemon = await spawnDaemon({ config, env });
    api = new Api(daemon.url, SECRETS.api);
  });

  afterAll(async () => {
    await api?.close();
    if (daemon?.alive()) await daemon.stop();
    await Promise.all([jira.stop(), slack.stop(), dingtalk.stop()]);
  });

  it('Jira: 429 + Retry-After, 503, slow answers and resets are retried until delivered', async () => {
    // Ids are chosen before posting so the faults can match the request that carries each one.
    const scenarios = ['j429', 'j503', 'jslow', 'jreset'];
    for (const s of scenarios) ids[s] = randomUUID();
    jira.inject(
      {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '1' },
        body: { errorMessages: ['Rate limit exceeded.'] },
      },
      2,
      hasId('j429'),
    );
    jira.inject({ kind: 'status', status: 503, body: 'Service Unavailable' }, 1, hasId('j503'));
    jira.inject({ kind: 'delay', ms: 1500 }, 1, hasId('jslow'));
    jira.inject({ kind: 'reset' }, 2, hasId('jreset'));
    await Promise.all(scenarios.map((s) => postWithId(s, 'jira')));
    const results = await Promise.all(scenarios.map((s) => settled(s, 'rule:jira-note')));
    for (const [i, d] of results.entries()) expect(d.status, scenarios[i]).toBe('succeeded');
    // Each faulty answer was followed by another try (by the plugin's client or the bus's retry).
    const tries = (s: string) => jira.requests.filter(hasId(s)).length;
    expect(tries('j429')).toBe(3);
    expect(tries('j503')).toBe(2);
    expect(tries('jslow')).toBeGreaterThanOrEqual(2);
    expect(tries('jreset')).toBe(3);
    const comments = jira.comments('FLT-1').map((c) => JSON.stringify(c.body));
    for (const s of scenarios)
      expect(
        comments.some((c) => c.includes(ids[s]!)),
        s,
      ).toBe(true);
    // The 429 was honoured: the retry came no sooner than Retry-After (1 s) after the refusal.
    const j429 = jira.requests.filter(hasId('j429')).map((r) => r.at);
    expect(j429).toHaveLength(3);
    expect(j429[1]! - j429[0]!).toBeGreaterThanOrEqual(950);
  });

  it('Jira: a 500 that never ends and an unknown issue are dead-lettered with the reason', async () => {
    ids.j500 = randomUUID();
    jira.inject({ kind: 'status', status: 500, body: { errorMessages: ['boom'] } }, 100, hasId('j500'));
    await postWithId('j500', 'jira');
    await post('j404', 'jira', 'FLT-999');
    const [d500, d404] = await Promise.all([
      settled('j500', 'rule:jira-note'),
      settled('j404', 'rule:jira-note'),
    ]);
    expect(d500).toMatchObject({ status: 'dead', attempts: 4 });
    expect(d404).toMatchObject({ status: 'dead', attempts: 1 });
    const dlq = await get<{ deadLetters: DeadLetter[] }>('/dlq?subscription=rule:jira-note');
    const byEvent = new Map(dlq.body.deadLetters.map((d) => [d.event.id, d]));
    expect(byEvent.get(ids.j500!)?.lastError).toMatchObject({ retryable: true });
    expect(byEvent.get(ids.j500!)?.lastError.message).toMatch(/500/);
    expect(byEvent.get(ids.j404!)?.lastError).toMatchObject({ retryable: false });
    expect(byEvent.get(ids.j404!)?.lastError.message).toMatch(/FLT-999/);
  });

  it('Slack: 429 + Retry-After and resets are retried; endless 503s are dead-lettered', async () => {
    for (const s of ['s429', 'sreset', 's503']) ids[s] = randomUUID();
    slack.inject(
      { kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' },
      2,
      hasId('s429'),
    );
    slack.inject({ kind: 'reset' }, 1, hasId('sreset'));
    slack.inject({ kind: 'status', status: 503, body: 'unavailable' }, 100, hasId('s503'));
    await Promise.all(['s429', 'sreset', 's503'].map((s) => postWithId(s, 'slack')));
    const [d429, dreset, d503] = await Promise.all(
      ['s429', 'sreset', 's503'].map((s) => settled(s, 'rule:slack-note')),
    );
    expect(d429).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(dreset).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(d503).toMatchObject({ status: 'dead', attempts: 4 });
    expect(d503?.lastError?.message).toBeTruthy();
    const texts = slack.messages.map((m) => m.text ?? '');
    expect(texts.some((t) => t.includes(ids.s429!))).toBe(true);
    expect(texts.some((t) => t.includes(ids.sreset!))).toBe(true);
    expect(texts.some((t) => t.includes(ids.s503!))).toBe(false);
  });

  it('DingTalk: busy and 502 are retried; flow-control throttling dead-letters the excess with the reason', async () => {
    dingtalk.failNext(DINGTALK_ERRORS.busy);
    await post('dbusy', 'dingtalk');
    expect(await settled('dbusy', 'rule:dingtalk-note')).toMatchObject({ status: 'succeeded', attempts: 2 });
    ids.d502 = randomUUID();
    dingtalk.server.inject({ kind: 'status', status: 502, body: 'Bad Gateway' }, 1, hasId('d502'));
    await postWithId('d502', 'dingtalk');
    expect(await settled('d502', 'rule:dingtalk-note')).toMatchObject({ status: 'succeeded', attempts: 2 });
    // The fake robot allows 4 a minute, the plugin is configured for 20: the robot throttles.
    const burst = ['b1', 'b2', 'b3', 'b4'];
    for (const b of burst) await post(b, 'dingtalk-burst');
    const ends = await Promise.all(burst.map((b) => settled(b, 'rule:dingtalk-burst')));
    expect(ends.filter((d) => d.status === 'succeeded')).toHaveLength(2);
    const dead = ends.filter((d) => d.status === 'dead');
    expect(dead).toHaveLength(2);
    for (const d of dead) expect(d.lastError?.code).toMatch(/^SY_DINGTALK_(THROTTLED|PAUSED)$/);
    expect(dingtalk.messages).toHaveLength(4);
    expect(dingtalk.rejections.some((r) => r.errcode === DINGTALK_ERRORS.sendTooFast.errcode)).toBe(true);
    const dlq = await get<{ deadLetters: DeadLetter[] }>('/dlq?subscription=rule:dingtalk-burst');
    expect(dlq.body.deadLetters).toHaveLength(2);
    for (const d of dlq.body.deadLetters) expect(d.lastError.message.length).toBeGreaterThan(10);
  });

  it('every delivery ended delivered or dead-lettered, and the daemon never exited', async () => {
    const all = await get<{ events: Array<{ id: string }> }>('/events?limit=1000');
    for (const e of all.body.events) {
      const trace = await get<{ deliveries: Delivery[] }>(`/events/${e.id}/trace`);
      for (const d of trace.body.deliveries)
        expect(['succeeded', 'dead'], JSON.stringify(d)).toContain(d.status);
    }
    const dlq = await get<{ deadLetters: DeadLetter[] }>('/dlq');
    expect(dlq.body.deadLetters.length).toBe(5); // j500, j404, s503, two throttled
    for (const d of dlq.body.deadLetters) expect(d.lastError.code).toMatch(/^SY_/);
    expect(daemon.alive()).toBe(true);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    await get('/metrics');
  });

  it('no secret in any log line, API answer, DLQ entry, metric or CLI output', async () => {
    // Provoke the paths that talk about credentials: bad signatures, a wrong API token.
    await jira.sendWebhook(
      `${daemon.url}/webhooks/jira`,
      { issueKey: 'FLT-1', to: 'In Review' },
      { signature: 'sha256=00' },
    );
    const slackBad = await api.send('POST', '/webhooks/slack/commands', {
      body: 'command=%2Fswitchyard&text=status',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': '1',
        'x-slack-signature': 'v0=00',
      },
    });
    answers.push(slackBad.text);
    const wrong = await api.send('GET', '/events', {
      headers: { authorization: `Bearer ${SECRETS.api}x` },
      auth: false,
    });
    answers.push(wrong.text);
    expect(wrong.status).toBe(403);

    const cliEnv = { ...env };
    for (const args of [
      ['check', '--config', config],
      ['check', '--config', config, '--json'],
      ['plugins', '--config', config],
      ['events', '--config', config, '--url', daemon.url, '-n', '100'],
      ['events', '--config', config, '--url', daemon.url, '--json'],
      ['trace', ids.j500!, '--config', config, '--url', daemon.url],
      ['trace', ids.b1!, '--config', config, '--url', daemon.url, '--json'],
      ['dlq', 'list', '--config', config, '--url', daemon.url],
      ['dlq', 'list', '--config', config, '--url', daemon.url, '--json'],
      ['emit', 'DeploymentCompleted', '--config', config, '--url', daemon.url, '--data', '{"service":1}'],
      ['events', '--url', daemon.url, '--token', `${SECRETS.api}-wrong`],
    ]) {
      const res = await runCli(args, cliEnv);
      // Only what the CLI printed is scanned (the last command's own arguments carry a token).
      cliOutput.push(`$ switchyard ${args[0]} ${args[1]} → ${res.code}\n${res.stdout}\n${res.stderr}`);
    }
    expect(cliOutput[0]).toMatch(/→ 0/);
    expect(cliOutput.at(-1)).toMatch(/403/);
    // A broken config whose invalid values are secrets: the problems name the place, not the value.
    const broken = writeConfig(
      dir,
      [
        'server: { host: 127.0.0.1, port: ${env:SY_TOKEN}, token: ${env:SY_TOKEN} }',
        'log: { level: ${file:jira-token} }',
        'plugins:',
        '  dingtalk: { options: { webhook: ${env:SLACK_SIGNING_SECRET}, secret: ${env:JIRA_WEBHOOK_SECRET} } }',
      ].join('\n'),
      'broken.yaml',
    );
    const bad = await runCli(['check', '--config', broken], cliEnv);
    cliOutput.push(`$ switchyard check --config broken.yaml → ${bad.code}\n${bad.stdout}\n${bad.stderr}`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/broken\.yaml:1:\d+/);

    const leaks = [
      ...daemon.lines.map((l) => `log: ${l}`),
      ...(daemon.stderr() ? [`stderr: ${daemon.stderr()}`] : []),
      ...answers.map((a) => `api: ${a}`),
      ...cliOutput.map((c) => `cli: ${c}`),
    ].filter((text) => text.includes(SECRET_MARK));
    expect(leaks).toEqual([]);
    // The scan saw real material: the log has the fault handling and the API the dead letters.
    expect(daemon.lines.length).toBeGreaterThan(20);
    expect(answers.join('\n')).toMatch(/deadLetters/);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    const afterStop = daemon.lines.filter((l) => l.includes(SECRET_MARK));
    expect(afterStop).toEqual([]);
  });

  async function postWithId(scenario: string, service: string, subject = 'FLT-1'): Promise<void> {
    const res = await api.postEvent({
      specversion: '1.0',
      id: ids[scenario],
      source: 'e2e/faults',
      type: 'DeploymentCompleted',
      subject,
      data: {
        service,
        environment: 'production',
        version: '1.0.0',
        outcome: 'succeeded',
        issueKeys: [subject],
      },
    });
    answers.push(res.text);
    expect(res.status).toBe(202);
  }
});
