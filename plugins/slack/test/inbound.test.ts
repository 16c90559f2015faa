import type { SwitchyardEvent } from '@switchyard/core';
import { slackSignature } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { deployment, issue, type Rig, rig, SIGNING_SECRET, until, verdict } from './harness.js';

const TOKEN = 'xoxb-333-444-inboundtoken';
let r: Rig | undefined;

afterEach(async () => {
  await r?.close();
  r = undefined;
});

function botRig() {
  return rig(
    (fake) => ({ token: TOKEN, channel: 'C0000000001', apiUrl: fake.apiUrl, signingSecret: SIGNING_SECRET }),
    { token: TOKEN },
  );
}

const interactions = () => `${r!.runner.url}/webhooks/slack/interactions`;
const commands = () => `${r!.runner.url}/webhooks/slack/commands`;

async function askForChain(): Promise<{ cause: SwitchyardEvent; ts: string }> {
  const start = (await r!.host.receive('IssueTransitioned', issue, { subject: 'PROJ-123' })).event;
  const cause = (await r!.host.receive('DeploymentCompleted', deployment, { cause: start })).event;
  const asked = (await r!.host.invoke(
    'slack.ask',
    { text: 'Ship checkout 1.4.2 to production?' },
    { cause },
  )) as {
    ts: string;
  };
  return { cause, ts: asked.ts };
}

describe('request signatures', () => {
  it('refuses missing, wrong, stale and replayed requests and emits nothing', async () => {
    r = await botRig();
    const { ts } = await askForChain();
    const payload = r.fake.clickPayload(ts, 'switchyard_approve');
    const now = Math.floor(r.host.clock.now() / 1000);

    const missing = await r.fake.sendInteraction(interactions(), payload, {
      signingSecret: SIGNING_SECRET,
      signature: null,
    });
    expect([missing.status, missing.json]).toEqual([
      401,
      {
        error: {
          code: 'SY_SLACK_REQUEST_SIGNATURE',
          message: expect.stringMatching(/missing X-Slack-Signature/),
        },
      },
    ]);

    const wrongSecret = await r.fake.sendInteraction(interactions(), payload, {
      signingSecret: 'not-the-secret',
    });
    expect([wrongSecret.status, wrongSecret.json]).toEqual([
      401,
      { error: { code: 'SY_SLACK_REQUEST_SIGNATURE', message: expect.stringMatching(/does not match/) } },
    ]);
    const garbage = await r.fake.sendInteraction(interactions(), payload, {
      signingSecret: SIGNING_SECRET,
      signature: 'v0=00',
    });
    expect(garbage.status).toBe(401);

    const stale = await r.fake.sendInteraction(interactions(), payload, {
      signingSecret: SIGNING_SECRET,
      timestamp: now - 5 * 60 - 1,
    });
    expect([stale.status, stale.json]).toEqual([
      401,
      {
        error: { code: 'SY_SLACK_REQUEST_SIGNATURE', message: expect.stringMatching(/more than 5 minutes/) },
      },
    ]);
    const future = await r.fake.sendInteraction(interactions(), payload, {
      signingSecret: SIGNING_SECRET,
      timestamp: now + 5 * 60 + 1,
    });
    expect(future.status).toBe(401);

    // A signature over other bytes (the body was tampered with) fails too.
    const tampered = await r.fake.sendInteraction(interactions(), payload, {
      signingSecret: SIGNING_SECRET,
      signature: slackSignature(SIGNING_SECRET, now, 'payload=%7B%7D'),
    });
    expect(tampered.status).toBe(401);
    expect(r.host.emitted('ApprovalGiven')).toHaveLength(0);

    const first = await r.fake.sendCommand(commands(), { text: 'help' }, { signingSecret: SIGNING_SECRET });
    expect(first.status).toBe(200);
    const replay = await r.fake.resend(first);
    expect([replay.status, replay.json]).toEqual([
      401,
      { error: { code: 'SY_SLACK_REQUEST_REPLAYED', message: expect.stringMatching(/replayed/) } },
    ]);
    // A signature within the 4-minute-old window is still remembered.
    await r.host.advance(4 * 60_000);
    expect((await r.fake.resend(first)).status).toBe(401);
    expect(JSON.stringify(r.host.logs)).not.toContain(SIGNING_SECRET);
  });

  it('refuses every Slack request when no signing secret is configured', async () => {
    r = await rig((fake) => ({ token: TOKEN, channel: 'C0000000001', apiUrl: fake.apiUrl }), {
      token: TOKEN,
    });
    const res = await r.fake.sendCommand(
      commands(),
      { text: 'status PROJ-1' },
      { signingSecret: 'anything' },
    );
    expect([res.status, res.json]).toEqual([
      403,
      { error: { code: 'SY_SLACK_REQUEST_UNSIGNED', message: expect.stringMatching(/signingSecret/) } },
    ]);
    await expect(r.host.invoke('slack.ask', { text: 'ok?' })).rejects.toMatchObject({
      code: 'SY_SLACK_CONFIG',
    });
  });
});

describe('slack.ask', () => {
  it('posts Approve/Reject; a click emits ApprovalGiven in the chain and rewrites the message; a second click is ignored', async () => {
    r = await botRig();
    const { cause, ts } = await askForChain();
    const asked = r.fake.message(ts)!;
    const buttons = JSON.stringify(asked.blocks);
    expect(buttons).toContain('"action_id":"switchyard_approve"');
    expect(buttons).toContain('"text":"Reject"');
    expect(buttons).toContain(cause.correlationid);
    expect(buttons).toContain(cause.id);

    const payload = r.fake.clickPayload(ts, 'switchyard_reject', { id: 'U0EVE', name: 'eve' });
    const click = await r.fake.click(interactions(), ts, 'switchyard_approve', {
      signingSecret: SIGNING_SECRET,
      user: { id: 'U0BOB', name: 'bob' },
    });
    expect(click.status).toBe(200);
    const approval = await r.host.waitFor('ApprovalGiven');
    expect(approval.data).toEqual({
      approved: true,
      by: { id: 'U0BOB', name: 'bob' },
      correlationId: cause.correlationid,
      question: 'Ship checkout 1.4.2 to production?',
      messageTs: ts,
      channel: 'C0000000001',
    });
    expect(approval.correlationid).toBe(cause.correlationid);
    expect(approval.causationid).toBe(cause.id);
    expect(approval.source).toBe('switchyard/plugin-slack');

    const updated = await until(
      () => (r!.fake.message(ts)!.updates === 1 ? r!.fake.message(ts) : undefined),
      'chat.update',
    );
    expect(updated!.text).toBe('Approved by bob: Ship checkout 1.4.2 to production?');
    expect(JSON.stringify(updated!.blocks)).toContain('*Approved* by <@U0BOB>');
    expect(JSON.stringify(updated!.blocks)).not.toContain('switchyard_approve');
    const update = r.fake.requests.find((q) => q.path === '/api/chat.update')!;
    expect(update.headers.authorization).toBe(`Bearer ${TOKEN}`);

    // The second click (eve saw the message before it was rewritten) changes nothing.
    const second = await r.fake.sendInteraction(interactions(), payload, { signingSecret: SIGNING_SECRET });
    expect(second.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.host.emitted('ApprovalGiven')).toHaveLength(1);
    expect(r.fake.message(ts)!.updates).toBe(1);
  });

  it('records a rejection and keeps custom labels', async () => {
    r = await botRig();
    const cause = (await r.host.receive('MetricValidated', verdict)).event;
    const { ts } = (await r.host.invoke(
      'slack.ask',
      { text: 'Roll back?', approveLabel: 'Roll back', rejectLabel: 'Keep' },
      { cause },
    )) as { ts: string };
    expect(JSON.stringify(r.fake.message(ts)!.blocks)).toContain('"text":"Keep"');
    await r.fake.click(interactions(), ts, 'switchyard_reject', { signingSecret: SIGNING_SECRET });
    const event = await r.host.waitFor('ApprovalGiven');
    expect(event.data).toMatchObject({ approved: false, by: { id: 'U0000000001' }, question: 'Roll back?' });
    expect(event.causationid).toBe(cause.id);
  });

  it("with an incoming webhook, rewrites the message through the interaction's response_url", async () => {
    r = await rig((fake) => ({ webhookUrl: fake.webhookUrl(), signingSecret: SIGNING_SECRET }));
    const cause = (await r.host.receive('IssueTransitioned', issue)).event;
    await r.host.invoke('slack.ask', { text: 'Start the pipeline?' }, { cause });
    const ts = r.fake.messages[0]!.ts;
    const click = await r.fake.click(interactions(), ts, 'switchyard_approve', {
      signingSecret: SIGNING_SECRET,
    });
    expect(click.status).toBe(200);
    expect((await r.host.waitFor('ApprovalGiven')).correlationid).toBe(cause.correlationid);
    const updated = await until(() => r!.fake.message(ts)!.updates === 1, 'response_url update');
    expect(updated).toBe(true);
    expect(r.fake.message(ts)!.text).toBe('Approved by alice: Start the pipeline?');
  });

  it('answers 400 to a payload it cannot read and ignores other interaction types', async () => {
    r = await botRig();
    const bad = await r.fake.sendInteraction(
      interactions(),
      {
        type: 'block_actions',
        user: { id: 'U1' },
        actions: [{ action_id: 'switchyard_approve', value: 'nope' }],
      },
      { signingSecret: SIGNING_SECRET },
    );
    expect([bad.status, bad.json]).toEqual([
      400,
      { error: { code: 'SY_SLACK_REQUEST_INVALID', message: expect.stringMatching(/button value/) } },
    ]);
    const other = await r.fake.sendInteraction(
      interactions(),
      { type: 'view_closed' },
      { signingSecret: SIGNING_SECRET },
    );
    expect(other.status).toBe(200);
    expect(r.host.emitted('ApprovalGiven')).toHaveLength(0);
  });
});

describe('/switchyard status', () => {
  it("answers, ephemerally, with the newest events of the issue's chain", async () => {
    r = await botRig();
    const start = (await r.host.receive('IssueTransitioned', issue, { subject: 'PROJ-123' })).event;
    const deploy = (await r.host.receive('DeploymentCompleted', deployment, { cause: start })).event;
    await r.host.receive('MetricValidated', verdict, { cause: deploy });
    await r.host.receive('IssueTransitioned', { ...issue, issueKey: 'PROJ-9' }, { subject: 'PROJ-9' });

    const res = await r.fake.sendCommand(
      commands(),
      { text: 'status proj-123' },
      { signingSecret: SIGNING_SECRET },
    );
    expect(res.status).toBe(200);
    const body = res.json as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    const lines = body.text.split('\n');
    expect(lines[0]).toBe("Latest 3 events of PROJ-123's chain (newest first):");
    expect(lines.slice(1).map((l) => /\*(\w+)\*/.exec(l)?.[1])).toEqual([
      'MetricValidated',
      'DeploymentCompleted',
      'IssueTransitioned',
    ]);
    expect(body.text).not.toContain('PROJ-9');

    const none = await r.fake.sendCommand(
      commands(),
      { text: 'status OPS-1' },
      { signingSecret: SIGNING_SECRET },
    );
    expect((none.json as { text: string }).text).toBe('No events for OPS-1 yet.');
    const usage = await r.fake.sendCommand(
      commands(),
      { text: 'deploy now' },
      { signingSecret: SIGNING_SECRET },
    );
    expect((usage.json as { text: string }).text).toMatch(
      /Unknown subcommand "deploy"[\s\S]*status PROJ-123/,
    );
  });
});
