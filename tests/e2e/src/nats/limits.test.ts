// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
// Rate limits across runners, for real: one nats-server, two `switchyard run` daemons (built CLI) on
// the same JetStream store, both pointing their DingTalk and Slack plugins at one fake robot and one
// fake Slack. The limiters keep their state in the plugins' JetStream KV store, so the two runners
// together must stay within one robot's 20 messages a minute and one channel's message a second,
// and a 429 answered to one runner must hold back the other. Nothing is dropped: the messages over
// the limit wait (the rule's `timeout` is long enough, as the DingTalk README says) and go out later.
//
// One timeline to keep the file near a minute: the DingTalk burst starts first, the Slack checks run
// while its excess waits for the window, and the last test collects the rest after the window.
import { rmSync } from 'node:fs';
import {
  DINGTALK_ERRORS,
  FakeDingTalk,
  type FakeRequest,
  FakeSlack,
  findNatsServer,
  type NatsServer,
  startNatsServer,
} from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type DaemonProcess, spawnDaemon, tempDir, waitFor, writeConfig } from '../support/daemon.js';

const TOKEN = 'e2e-limits-api-token-0123456789';
const BOT_TOKEN = 'xoxb-e2e-limits-bot-token';
const CHANNEL = 'C0000000001';
const BURST = 30;
const PER_MINUTE = 20;
/** DingTalk's window; the limiter adds a one-second margin to it. */
const MINUTE = 60_000;

interface Delivery {
  subscription: string;
  status: string;
  attempts: number;
  lastError?: { code: string; retryable: boolean; retryAfterMs?: number };
}

/** Largest number of times within any `windowMs` (sorted input). */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(findNatsServer() === undefined)('rate limits across two runners on one NATS store', () => {
  const dingtalk = new FakeDingTalk({ accessToken: 'e2e-limits-dingtalk-token' });
  const slack = new FakeSlack({ token: BOT_TOKEN, channels: [CHANNEL] });
  let nats: NatsServer;
  let dir: string;
  const daemons: DaemonProcess[] = [];
  const apis: Api[] = [];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    [nats] = await Promise.all([startNatsServer(), dingtalk.start(), slack.start()]);
    dir = tempDir('sy-limits-');
    const config = writeConfig(
      dir,
      [
        'server: { host: 127.0.0.1, port: 0, token: ${env:SY_TOKEN}, shutdownTimeout: 2s }',
        `store: { kind: nats, servers: ["${nats.url}"], stream: LIMITS_${process.pid}_${Date.now()} }`,
        'plugins:',
        `  dingtalk: { options: { webhook: "${dingtalk.webhook}" } }`,
        `  slack: { options: { token: ${BOT_TOKEN}, channel: ${CHANNEL}, apiUrl: "${slack.apiUrl}" } }`,
        'rules:',
        '  - name: tell-dingtalk',
        '    on: DeploymentCompleted',
        '    if: data.environment == "dingtalk"',
        // Messages over the robot's limit wait in the action for the window (up to a minute here):
        // the rule's timeout must cover that wait, or the waiting deliveries time out and are retried.
        '    timeout: 3m',
        '    concurrency: 8',
        '    do:',
        '      - action: dingtalk.send',
        '        with: { msgtype: text, text: "deployed {{ .data.version }}" }',
        '  - name: tell-slack',
        '    on: DeploymentCompleted',
        '    if: data.environment == "slack"',
        '    concurrency: 8',
        '    do:',
        '      - action: slack.post',
        '        with: { text: "deployed {{ .data.version }}" }',
        'log: { level: info }',
      ].join('\n'),
    );
    const started = await Promise.all(
      [0, 1].map(() => spawnDaemon({ config, env: { SY_TOKEN: TOKEN }, readyTimeoutMs: 30_000 })),
    );
    daemons.push(...started);
    apis.push(...started.map((d) => new Api(d.url, TOKEN)));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(apis.map((a) => a.close()));
    await Promise.all(daemons.map((d) => d.stop()));
    await Promise.all([dingtalk.stop(), slack.stop()]);
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const diag = () =>
    daemons
      .map((d, i) => `\n--- daemon ${i} log tail:\n${d.lines.slice(-30).join('\n')}\nstderr: ${d.stderr()}`)
      .join('');

  /** Posts one DeploymentCompleted per version, alternating between the two daemons. */
  const post = async (environment: string, versions: string[]) => {
    await Promise.all(
      versions.map(async (version, i) => {
        const res = await apis[i % 2]!.postEvent({
          specversion: '1.0',
          id: `${environment}-${version}`,
          source: 'e2e/limits',
          type: 'DeploymentCompleted',
          data: { service: 'checkout', environment, version, outcome: 'succeeded', issueKeys: [] },
        });
        expect(res.status, res.text).toBe(202);
        ids[`${environment}-${version}`] = res.body.id;
      }),
    );
  };

  /** How many "… message sent" lines each daemon logged (who really sent). */
  const sentBy = (msg: string) =>
    daemons.map((d) => d.lines.filter((l) => l.includes(`"msg":"${msg}"`)).length);

  /** How many times each daemon logged a rule action of this kind as done. */
  const actionsDone = (action: string) =>
    daemons.map(
      (d) =>
        d.lines.filter((l) => l.includes('"msg":"rule action done"') && l.includes(`"action":"${action}"`))
          .length,
    );

  const deadLetters = async () => {
    const lists = await Promise.all(
      apis.map((a) => a.get<{ deadLetters: unknown[] }>('/dlq').then((r) => r.body.deadLetters)),
    );
    return lists.flat();
  };

  const delivery = async (key: string, subscription: string) => {
    const res = await apis[0]!.get<{ deliveries: Delivery[] }>(`/events/${ids[key]}/trace`);
    return res.body.deliveries.find((d) => d.subscription === subscription);
  };

  const versions = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}.${i}`);

  it('DingTalk: 30 messages asked of one robot from two runners, 20 go out and the rest wait', async () => {
    await post('dingtalk', versions('1', BURST));
    try {
      await waitFor(() => dingtalk.messages.length >= PER_MINUTE, 20_000, '20 DingTalk messages', 50);
    } catch (error) {
      throw new Error(`${(error as Error).message}${diag()}`);
    }
    // The excess is held back, not sent, refused or dead-lettered: give it a few seconds to misbehave.
    await sleep(4_000);
    expect(dingtalk.messages).toHaveLength(PER_MINUTE);
    expect(dingtalk.rejections).toEqual([]);
    expect(await deadLetters()).toEqual([]);
    // Both runners sent part of the 20: the limit held across them, not inside one of them.
    const perDaemon = sentBy('DingTalk message sent');
    expect(perDaemon.reduce((a, b) => a + b, 0)).toBe(PER_MINUTE);
    expect(Math.min(...perDaemon), `messages sent per daemon: ${perDaemon}`).toBeGreaterThan(0);
  });

  it('Slack: one channel gets about one message a second from the two runners together', async () => {
    const count = 8;
    await post('slack', versions('2', count));
    await waitFor(() => slack.messagesIn(CHANNEL).length >= count, 30_000, `${count} Slack messages`, 50);
    const times = posts(slack.requests).map((r) => r.at);
    expect(times).toHaveLength(count); // no 429, nothing sent twice
    for (let i = 1; i < times.length; i++) {
      // The limiter spaces slots 1000 ms apart; allow for the HTTP hop of each runner.
      expect(times[i]! - times[i - 1]!, `gap before message ${i}`).toBeGreaterThanOrEqual(900);
    }
    const perDaemon = actionsDone('slack.post');
    expect(Math.min(...perDaemon), `Slack posts per daemon: ${perDaemon}`).toBeGreaterThan(0);
  });

  it('Slack: a 429 answered to one runner holds back both until Retry-After has passed', async () => {
    const before = posts(slack.requests).length;
    const delivered = slack.messagesIn(CHANNEL).length;
    const batch = versions('3', 4);
    const mark = daemons.map((d) => d.lines.length);
    slack.rateLimitNext(1, 3);
    await post('slack', batch);
    await waitFor(
      () => slack.messagesIn(CHANNEL).length >= delivered + batch.length,
      30_000,
      'Slack messages after the 429',
      50,
    );
    // The first request after rateLimitNext is the one answered 429.
    const after = posts(slack.requests).slice(before);
    expect(after).toHaveLength(batch.length + 1);
    const retryAt = after[0]!.at + 3_000;
    for (const r of after.slice(1)) expect(r.at).toBeGreaterThanOrEqual(retryAt);
    // …and the runner that was not answered 429 sent some of them: the block held it back too.
    const lines = daemons.map((d, i) => d.lines.slice(mark[i]));
    const limited = lines.findIndex((ls) => ls.some((l) => l.includes('"code":"SY_SLACK_RATE_LIMITED"')));
    expect(limited).toBeGreaterThanOrEqual(0);
    const byOther = batch.filter((v) =>
      lines[1 - limited]!.some(
        (l) => l.includes('"msg":"rule action done"') && l.includes(`"eventId":"${ids[`slack-${v}`]}"`),
      ),
    );
    expect(byOther.length, 'messages of the batch sent by the runner that got no 429').toBeGreaterThan(0);
    for (const v of batch) {
      expect(await delivery(`slack-${v}`, 'rule:tell-slack')).toMatchObject({ status: 'succeeded' });
    }
  });

  it('DingTalk: the waiting messages go out after the window, none lost, none over the limit', async () => {
    const remaining = BURST - PER_MINUTE;
    expect(dingtalk.messages.length, 'still held back before the window ends').toBe(PER_MINUTE);
    const windowEnds = dingtalk.messages[0]!.at + MINUTE;
    await waitFor(
      () => dingtalk.messages.length >= BURST,
      Math.max(0, windowEnds - Date.now()) + 20_000,
      `the other ${remaining} DingTalk messages`,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}${diag()}`);
    });
    const at = dingtalk.messages.map((m) => m.at);
    expect(at).toHaveLength(BURST);
    expect(at[PER_MINUTE]! - at[0]!).toBeGreaterThanOrEqual(MINUTE);
    expect(maxInWindow(at, MINUTE)).toBeLessThanOrEqual(PER_MINUTE);
    expect(dingtalk.rejections).toEqual([]);
    expect(new Set(dingtalk.messages.map((m) => m.text))).toEqual(
      new Set(versions('1', BURST).map((v) => `deployed ${v}`)),
    );
    expect(await deadLetters()).toEqual([]);
    for (const v of versions('1', BURST)) {
      expect(await delivery(`dingtalk-${v}`, 'rule:tell-dingtalk')).toMatchObject({
        status: 'succeeded',
        attempts: 1,
      });
    }
  });

  it('DingTalk: "send too fast" answered to one runner pauses both; the paused messages wait, none is lost', async () => {
    const requests = dingtalk.server.requests.length;
    const mark = daemons.map((d) => d.lines.length);
    dingtalk.failNext(DINGTALK_ERRORS.sendTooFast);
    await post('dingtalk', ['4.0']);
    await waitFor(
      async () => (await delivery('dingtalk-4.0', 'rule:tell-dingtalk'))?.status === 'retrying',
      20_000,
      'the throttled delivery to be retrying',
    );
    expect(await delivery('dingtalk-4.0', 'rule:tell-dingtalk')).toMatchObject({
      lastError: { code: 'SY_DINGTALK_THROTTLED', retryAfterMs: 600_000 },
    });
    const batch = versions('5', 6);
    await post('dingtalk', batch);
    const records = await waitFor(
      async () => {
        const all = await Promise.all(batch.map((v) => delivery(`dingtalk-${v}`, 'rule:tell-dingtalk')));
        return all.every((d) => d?.status === 'retrying') ? all : undefined;
      },
      20_000,
      'the other deliveries to be held back by the pause',
    );
    for (const d of records)
      expect(d!.lastError).toMatchObject({ code: 'SY_DINGTALK_PAUSED', retryable: true });
    // Only the throttled request reached DingTalk, and the runner DingTalk did not answer paused too.
    expect(dingtalk.server.requests.length).toBe(requests + 1);
    const lines = daemons.map((d, i) => d.lines.slice(mark[i]));
    const throttled = lines.findIndex((ls) => ls.some((l) => l.includes('"code":"SY_DINGTALK_THROTTLED"')));
    expect(throttled).toBeGreaterThanOrEqual(0);
    expect(lines[1 - throttled]!.some((l) => l.includes('"code":"SY_DINGTALK_PAUSED"'))).toBe(true);
    expect(await deadLetters()).toEqual([]);
  });
});

/** chat.postMessage requests, in arrival order. */
function posts(requests: readonly FakeRequest[]): FakeRequest[] {
  return requests.filter((r) => r.path === '/api/chat.postMessage');
}
