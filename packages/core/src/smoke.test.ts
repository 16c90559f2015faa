import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCore, defineEvent, definePlugin } from './index.js';

const Foo = defineEvent('Foo', z.object({ n: z.number() }));
declare module './index.js' {
  interface EventMap {
    Foo: { n: number };
  }
}

describe('smoke', () => {
  it('publishes and delivers with causality', async () => {
    const core = createCore();
    core.registry.register(Foo);
    const seen: string[] = [];
    await core.bus.subscribe({
      id: 's1',
      types: ['DeploymentCompleted'],
      handler: async (e) => {
        seen.push(e.data.service);
        await core.bus.publish('Foo', { n: 1 });
      },
    });
    const got = new Promise<any>((resolve) =>
      core.bus.subscribe({ id: 's2', types: ['Foo'], handler: (e) => resolve(e) }),
    );
    const { event } = await core.bus.publish('DeploymentCompleted', {
      service: 'api',
      environment: 'dev',
      version: '1',
      outcome: 'succeeded',
      issueKeys: [],
    });
    const foo = await got;
    expect(seen).toEqual(['api']);
    expect(foo.causationid).toBe(event.id);
    expect(foo.correlationid).toBe(event.id);
    // @ts-expect-error servce is not a field
    await expect(core.bus.publish('DeploymentCompleted', { servce: 'x' })).rejects.toThrow(/data.service/);
  });
  it('host starts a plugin', async () => {
    const core = createCore();
    const p = definePlugin({
      id: 'demo',
      version: '1.0.0',
      core: '^0.1.0',
      config: z.object({ x: z.number() }),
      actions: { hello: { params: z.object({ name: z.string() }) } },
      setup: () => ({ actions: { hello: async (p) => `hi ${p.name}` } }),
    });
    core.host.add([{ key: 'demo', module: { default: p }, options: { x: 1 } }]);
    await core.host.start();
    expect(await core.host.invoke('demo.hello', { name: 'a' })).toBe('hi a');
    expect(() => core.host.validate([{ key: 'demo', module: p, options: { x: 'no' } }])).not.toThrow();
    expect(
      core.host.validate([{ key: 'demo2', module: p, options: { x: 'no' } }]).map((x) => x.path),
    ).toEqual(['plugins.demo2', 'plugins.demo2.options.x']);
  });
});
