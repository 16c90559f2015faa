import { describe, expect, it } from 'vitest';
import {
  type BackoffPolicy,
  createCore,
  currentDelivery,
  PermanentError,
  RetryableError,
  retryDelay,
  type SwitchyardEvent,
} from './index.js';

const fast: Partial<BackoffPolicy> = { initialMs: 10, maxMs: 100, factor: 2, jitter: 0 };
const deployment = {
  service: 'api',
  environment: 'dev',
  version: '1',
  outcome: 'succeeded' as const,
  issueKeys: [],
};

async function until<T>(fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('retryDelay', () => {
  const policy: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.2 };
  it('grows exponentially up to the cap, with jitter below the nominal delay', () => {
    expect(retryDelay(1, policy, undefined, () => 1)).toBe(1000);
    expect(retryDelay(2, policy, undefined, () => 1)).toBe(2000);
    expect(retryDelay(3, policy, undefined, () => 0)).toBe(3200);
    expect(retryDelay(20, policy, undefined, () => 1)).toBe(60_000);
  });
  it('never retries earlier than a Retry-After asked for', () => {
    for (const r of [0, 0.5, 1]) {
      const d = retryDelay(1, policy, 30_000, () => r);
      expect(d).toBeGreaterThanOrEqual(30_000);
      expect(d).toBeLessThanOrEqual(33_000);
    }
  });
});

describe('bus', () => {
  it('publish resolves after the transport stored the event', async () => {
    const core = createCore();
    const { event, duplicate } = await core.bus.publish('DeploymentCompleted', deployment, {
      subject: 'api',
    });
    expect(duplicate).toBe(false);
    expect(await core.transport.get(event.id)).toBe(event);
    expect(event.source).toBe('switchyard');
  });

  it('sets causation inside a handler without the author passing it, and allows opting out', async () => {
    const core = createCore();
    const children: SwitchyardEvent[] = [];
    await core.bus.subscribe({
      id: 'chain',
      types: ['DeploymentCompleted'],
      handler: async (e) => {
        expect(currentDelivery()?.event.id).toBe(e.id);
        if (e.data.environment === 'dev') {
          children.push(
            (await core.bus.publish('DeploymentCompleted', { ...deployment, environment: 'prod' })).event,
          );
          children.push(
            (
              await core.bus.publish(
                'DeploymentCompleted',
                { ...deployment, environment: 'x' },
                { cause: null },
              )
            ).event,
          );
        }
      },
    });
    const root = (await core.bus.publish('DeploymentCompleted', deployment)).event;
    await until(() => (children.length === 2 ? true : undefined));
    expect(children[0]!.causationid).toBe(root.id);
    expect(children[0]!.correlationid).toBe(root.id);
    expect(children[1]!.causationid).toBeUndefined();
  });

  it('a throwing handler is retried, never crashes the process, and other subscriptions still get the event', async () => {
    const core = createCore();
    let attempts = 0;
    let other = 0;
    await core.bus.subscribe({
      id: 'flaky',
      types: ['DeploymentCompleted'],
      backoff: fast,
      handler: () => {
        attempts++;
        if (attempts < 3) throw new TypeError('bug in handler');
      },
    });
    await core.bus.subscribe({ id: 'other', types: ['DeploymentCompleted'], handler: () => void other++ });
    await core.bus.publish('DeploymentCompleted', deployment);
    await until(() => (attempts === 3 && other === 1 ? true : undefined));
    const metrics = await core.metrics.registry.getSingleMetricAsString('switchyard_delivery_retries_total');
    expect(metrics).toContain('subscription="flaky",type="DeploymentCompleted"} 2');
  });

  it('aborts a handler past its timeout through its AbortSignal and dead-letters after maxAttempts', async () => {
    const core = createCore();
    const reasons: unknown[] = [];
    await core.bus.subscribe({
      id: 'slow',
      types: ['DeploymentCompleted'],
      timeoutMs: 30,
      maxAttempts: 2,
      backoff: fast,
      handler: (_e, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            resolve(undefined);
          });
        }),
    });
    await core.bus.publish('DeploymentCompleted', deployment);
    const list = await (async () => {
      const end = Date.now() + 3000;
      for (;;) {
        const l = await core.transport.deadLetters();
        if (l.length > 0 || Date.now() > end) return l;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    expect(list).toHaveLength(1);
    expect(list[0]!.lastError.code).toBe('SY_HANDLER_TIMEOUT');
    expect(list[0]!.attempts).toBe(2);
    expect(reasons).toHaveLength(2);
    expect((reasons[0] as Error).message).toMatch(/ran past its 30 ms timeout/);
  });

  it('dead-letters permanent errors at once and honours retryAfterMs of retryable ones', async () => {
    const core = createCore();
    const times: number[] = [];
    await core.bus.subscribe({
      id: 'perm',
      types: ['DeploymentCompleted'],
      backoff: fast,
      handler: (e) => {
        if (e.data.environment === 'dev') throw new PermanentError('TEST_BAD', 'unknown issue PROJ-9');
        times.push(Date.now());
        if (times.length === 1) throw new RetryableError('TEST_429', 'throttled', { retryAfterMs: 150 });
      },
    });
    await core.bus.publish('DeploymentCompleted', deployment);
    await core.bus.publish('DeploymentCompleted', { ...deployment, environment: 'prod' });
    await until(() => (times.length === 2 ? true : undefined));
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(145);
    const dead = await core.transport.deadLetters({ subscription: 'perm' });
    expect(dead.map((d) => [d.attempts, d.lastError.code, d.lastError.retryable])).toEqual([
      [1, 'TEST_BAD', false],
    ]);
  });

  it('refuses subscriptions to unknown types and duplicate ids', async () => {
    const core = createCore();
    await expect(core.bus.subscribe({ id: 'x', types: ['Nope'], handler: () => {} })).rejects.toThrow(
      /unknown event type "Nope"/,
    );
    const stop = await core.bus.subscribe({ id: 'x', types: ['DeploymentCompleted'], handler: () => {} });
    await expect(
      core.bus.subscribe({ id: 'x', types: ['DeploymentCompleted'], handler: () => {} }),
    ).rejects.toThrow(/already running/);
    await stop();
    await core.bus.subscribe({ id: 'x', types: ['DeploymentCompleted'], handler: () => {} });
  });

  it('stop waits for in-flight deliveries', async () => {
    const core = createCore();
    let finished = false;
    const started = new Promise<void>((resolve) =>
      core.bus.subscribe({
        id: 'drain',
        types: ['DeploymentCompleted'],
        handler: async () => {
          resolve();
          await new Promise((r) => setTimeout(r, 50));
          finished = true;
        },
      }),
    );
    await core.bus.publish('DeploymentCompleted', deployment);
    await started;
    await core.bus.stop({ deadlineMs: 1000 });
    expect(finished).toBe(true);
  });
});
