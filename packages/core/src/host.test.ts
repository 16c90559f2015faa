import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type ActionContext,
  BUS,
  CORE_VERSION,
  createCore,
  definePlugin,
  HTTP,
  type HttpClient,
  inject,
  injectable,
  LOGGER,
  type Logger,
  PermanentError,
  PLUGIN_CONFIG,
  type PluginBus,
  PluginValidationError,
  STORE,
} from './index.js';

const noop = () => ({});

function plugin(id: string, extra: Partial<Parameters<typeof definePlugin>[0]> = {}) {
  return definePlugin({
    id,
    version: '1.0.0',
    core: `^${CORE_VERSION}`,
    config: z.object({}),
    setup: noop,
    ...extra,
  });
}

describe('plugin host: validation', () => {
  it('reports every problem at once with plugin id, config path and reason', () => {
    const core = createCore();
    const jira = definePlugin({
      id: 'jira',
      version: '1.0.0',
      core: `^${CORE_VERSION}`,
      config: z.object({ baseUrl: z.url(), apiVersion: z.union([z.literal(2), z.literal(3)]) }),
      setup: noop,
    });
    const future = plugin('future', { core: '^9.0.0' });
    const problems = core.host.validate([
      { key: 'jira', module: jira, options: { baseUrl: 'not a url', apiVersion: 4 } },
      { key: 'future', module: future, options: {} },
      { key: 'empty', module: { default: undefined }, options: {} },
      { key: 'needy', module: plugin('needy', { dependsOn: ['vault'] }), options: {} },
    ]);
    expect(problems.map((p) => [p.path, p.code])).toEqual([
      ['plugins.jira.options.baseUrl', 'SY_PLUGIN_CONFIG_INVALID'],
      ['plugins.jira.options.apiVersion', 'SY_PLUGIN_CONFIG_INVALID'],
      ['plugins.future', 'SY_PLUGIN_CORE_MISMATCH'],
      ['plugins.empty', 'SY_PLUGIN_INVALID'],
      ['plugins.needy', 'SY_PLUGIN_DEPENDENCY_MISSING'],
    ]);
    const mismatch = problems.find((p) => p.code === 'SY_PLUGIN_CORE_MISMATCH')!;
    expect(mismatch.message).toContain('^9.0.0');
    expect(mismatch.message).toContain(CORE_VERSION);
    expect(() => core.host.add([{ key: 'future', module: future, options: {} }])).toThrow(
      PluginValidationError,
    );
  });

  it('unwraps default exports and names a module that is not a plugin', () => {
    const core = createCore();
    expect(
      core.host.validate([{ key: 'ok', module: { default: { default: plugin('ok') } }, options: {} }]),
    ).toEqual([]);
    const [p] = core.host.validate([
      { key: 'bad', module: { id: 'Bad Id', setup: 1 }, options: {}, source: './my-plugin.js' },
    ]);
    expect(p!.message).toMatch(/\.\/my-plugin\.js is not a Switchyard plugin/);
  });

  it('detects a plugin built against a second copy of core', () => {
    const core = createCore();
    // What definePlugin of another copy of core leaves on its result.
    const foreign = {
      id: 'foreign',
      version: '1.0.0',
      core: `^${CORE_VERSION}`,
      config: z.object({}),
      setup: noop,
    };
    Object.defineProperty(foreign, Symbol.for('switchyard.plugin'), {
      value: { coreVersion: '0.0.9', coreLocation: '/elsewhere/node_modules/@switchyard/core/' },
    });
    const [p] = core.host.validate([{ key: 'foreign', module: foreign, options: {} }]);
    expect(p!.code).toBe('SY_CORE_DUPLICATE');
    expect(p!.message).toContain('/elsewhere/node_modules/@switchyard/core/');
  });

  it('detects two copies of core loaded in the process', () => {
    const key = Symbol.for('switchyard.core.instances');
    const list = (globalThis as unknown as Record<symbol, Array<{ version: string; location: string }>>)[
      key
    ]!;
    list.push({ version: '0.0.1', location: '/other/copy/' });
    try {
      const problems = createCore().host.validate([]);
      expect(problems.map((p) => p.code)).toEqual(['SY_CORE_DUPLICATE']);
    } finally {
      list.pop();
    }
  });

  it('rejects dependency cycles and duplicate event types', () => {
    const core = createCore();
    const problems = core.host.validate([
      { key: 'a', module: plugin('a', { dependsOn: ['b'] }), options: {} },
      { key: 'b', module: plugin('b', { dependsOn: ['a'] }), options: {} },
    ]);
    expect(problems.map((p) => p.code)).toEqual(['SY_PLUGIN_DEPENDENCY_CYCLE']);
    expect(problems[0]!.message).toMatch(/a -> b -> a/);
  });
});

describe('plugin host: lifecycle', () => {
  it('starts in dependency order and stops in reverse', async () => {
    const core = createCore();
    const log: string[] = [];
    const make = (id: string, dependsOn: string[] = []) =>
      plugin(id, {
        dependsOn,
        setup: () => {
          log.push(`setup ${id}`);
          return { start: () => void log.push(`start ${id}`), stop: () => void log.push(`stop ${id}`) };
        },
      });
    core.host.add([
      { key: 'pipeline', module: make('pipeline', ['jira']), options: {} },
      { key: 'jira', module: make('jira'), options: {} },
    ]);
    await core.host.start();
    await core.host.stop();
    expect(log).toEqual([
      'setup jira',
      'start jira',
      'setup pipeline',
      'start pipeline',
      'stop pipeline',
      'stop jira',
    ]);
  });

  it('wraps a start failure with the plugin id, keeps the cause, and stops the others', async () => {
    const core = createCore();
    const stopped: string[] = [];
    core.host.add([
      {
        key: 'good',
        module: plugin('good', { setup: () => ({ stop: () => void stopped.push('good') }) }),
        options: {},
      },
      {
        key: 'broken',
        module: plugin('broken', {
          setup: () => {
            throw new Error('cannot reach vault');
          },
        }),
        options: {},
      },
    ]);
    const error = await core.host.start().catch((e) => e);
    expect(error.code).toBe('SY_PLUGIN_START_FAILED');
    expect(error.message).toBe('plugin "broken" failed to start: cannot reach vault');
    expect(error.cause.message).toBe('cannot reach vault');
    expect(stopped).toEqual(['good']);
  });

  it('reports several start failures as an AggregateError and times out a hanging plugin', async () => {
    const core = createCore({ host: { bootTimeoutMs: 50 } });
    core.host.add([
      { key: 'hangs', module: plugin('hangs', { setup: () => new Promise(() => {}) }), options: {} },
      {
        key: 'fails',
        module: plugin('fails', {
          setup: () => ({
            start: () => {
              throw new Error('port in use');
            },
          }),
        }),
        options: {},
      },
    ]);
    const error = await core.host.start().catch((e) => e);
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.errors.map((e: { code: string }) => e.code)).toEqual([
      'SY_PLUGIN_START_TIMEOUT',
      'SY_PLUGIN_START_FAILED',
    ]);
    expect(error.errors[0].message).toBe('plugin "hangs" did not finish setup within 50 ms');
  });

  it('resolves services from a per-plugin child container with explicit tokens', async () => {
    @injectable()
    class JiraClient {
      constructor(
        @inject(PLUGIN_CONFIG) readonly config: { baseUrl: string },
        @inject(HTTP) readonly http: HttpClient,
        @inject(LOGGER) readonly logger: Logger,
        @inject(BUS) readonly bus: PluginBus,
      ) {}
    }
    const core = createCore();
    let client: JiraClient | undefined;
    let storeOk = false;
    core.host.add([
      {
        key: 'jira',
        module: definePlugin({
          id: 'jira',
          version: '1.0.0',
          core: `^${CORE_VERSION}`,
          config: z.object({ baseUrl: z.string() }),
          setup: async (ctx) => {
            client = ctx.container.resolve(JiraClient);
            const store = ctx.container.resolve(STORE);
            await store.set('k', 1);
            storeOk = (await ctx.store.get('k'))?.value === 1;
            return {};
          },
        }),
        options: { baseUrl: 'https://jira.example' },
      },
    ]);
    await core.host.start();
    expect(client!.config.baseUrl).toBe('https://jira.example');
    expect(client!.http.plugin).toBe('jira');
    expect(storeOk).toBe(true);
  });

  it('namespaces plugin subscriptions, stops them with the plugin, and tags emitted events with the plugin', async () => {
    const core = createCore();
    const seen: string[] = [];
    core.host.add([
      {
        key: 'watcher',
        module: plugin('watcher', {
          setup: (ctx) => ({
            start: async () => {
              await ctx.bus.subscribe({
                id: 'deploys',
                types: ['DeploymentCompleted'],
                handler: (e) => void seen.push(e.source),
              });
            },
          }),
        }),
        options: {},
      },
    ]);
    await core.host.start();
    const { event } = await core.bus.publish('DeploymentCompleted', {
      service: 'a',
      environment: 'b',
      version: '1',
      outcome: 'failed',
      issueKeys: [],
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['switchyard']);
    const deliveries = await core.transport.deliveries(event.id);
    expect(deliveries.map((d) => d.subscription)).toEqual(['plugin:watcher:deploys']);
    await core.host.stop();
    await core.bus.subscribe({
      id: 'plugin:watcher:deploys',
      types: ['DeploymentCompleted'],
      handler: () => {},
    });
  });
});

describe('plugin host: actions', () => {
  const echo = definePlugin({
    id: 'echo',
    version: '1.0.0',
    core: `^${CORE_VERSION}`,
    config: z.object({}),
    actions: {
      say: {
        params: z.object({ text: z.string().min(1), times: z.number().int().default(1) }),
        emits: ['DeploymentCompleted'],
      },
      fail: { params: z.object({ how: z.enum(['permanent', 'plain']) }) },
    },
    setup: () => {
      let calls = 0;
      return {
        actions: {
          say: async (params, ctx: ActionContext) => {
            calls++;
            if (ctx.cause) {
              await ctx.emit('DeploymentCompleted', {
                service: params.text,
                environment: 'dev',
                version: '1',
                outcome: 'succeeded',
                issueKeys: [],
              });
            }
            return { said: params.text.repeat(params.times), calls };
          },
          fail: (params) => {
            if (params.how === 'permanent') throw new PermanentError('TEST_NOPE', 'unknown issue');
            throw new Error('socket hang up');
          },
        },
      };
    },
  });

  it('validates params, applies defaults, and names bad fields', async () => {
    const core = createCore();
    core.host.add([{ key: 'echo', module: echo, options: {} }]);
    await core.host.start();
    expect(await core.host.invoke('echo.say', { text: 'hi', times: 2 })).toEqual({ said: 'hihi', calls: 1 });
    await expect(core.host.invoke('echo.say', { text: '', times: 'x' })).rejects.toMatchObject({
      code: 'SY_ACTION_PARAMS_INVALID',
      retryable: false,
      message: expect.stringMatching(/echo\.say params are invalid: text: .*; times: /),
    });
    await expect(core.host.invoke('echo.shout', {})).rejects.toThrow(
      /unknown action "echo.shout"; loaded actions: echo.fail, echo.say/,
    );
  });

  it('returns the recorded result instead of repeating a completed side effect', async () => {
    const core = createCore();
    core.host.add([{ key: 'echo', module: echo, options: {} }]);
    await core.host.start();
    const first = await core.host.invoke('echo.say', { text: 'a' }, { idempotencyKey: 'evt1:rule:r:0' });
    const second = await core.host.invoke('echo.say', { text: 'a' }, { idempotencyKey: 'evt1:rule:r:0' });
    const third = await core.host.invoke('echo.say', { text: 'a' }, { idempotencyKey: 'evt2:rule:r:0' });
    expect(first).toEqual({ said: 'a', calls: 1 });
    expect(second).toEqual(first);
    expect(third).toEqual({ said: 'a', calls: 2 });
  });

  it('classifies errors: permanent ones stay permanent, plain throws become retryable and name the action', async () => {
    const core = createCore();
    core.host.add([{ key: 'echo', module: echo, options: {} }]);
    await core.host.start();
    await expect(core.host.invoke('echo.fail', { how: 'permanent' })).rejects.toMatchObject({
      code: 'TEST_NOPE',
      retryable: false,
    });
    await expect(core.host.invoke('echo.fail', { how: 'plain' })).rejects.toMatchObject({
      code: 'SY_HANDLER_FAILED',
      retryable: true,
      message: 'echo.fail failed: socket hang up',
    });
  });

  it('emits caused events from an action with the plugin as source', async () => {
    const core = createCore();
    core.host.add([{ key: 'echo', module: echo, options: {} }]);
    await core.host.start();
    const cause = (
      await core.bus.publish('DeploymentCompleted', {
        service: 'root',
        environment: 'e',
        version: '1',
        outcome: 'succeeded',
        issueKeys: [],
      })
    ).event;
    await core.host.invoke('echo.say', { text: 'child' }, { cause });
    const [child] = await core.transport.query({
      correlationId: cause.id,
      subject: undefined,
      type: 'DeploymentCompleted',
      newestFirst: true,
      limit: 1,
    });
    expect(child).toMatchObject({
      causationid: cause.id,
      correlationid: cause.id,
      source: 'switchyard/plugin-echo',
    });
  });

  it('refuses to start when setup does not return a declared action handler', async () => {
    const core = createCore();
    const incomplete = definePlugin({
      id: 'incomplete',
      version: '1.0.0',
      core: `^${CORE_VERSION}`,
      config: z.object({}),
      actions: { run: { params: z.object({}) } },
      // @ts-expect-error the declared action "run" has no handler
      setup: () => ({ actions: {} }),
    });
    core.host.add([{ key: 'incomplete', module: incomplete, options: {} }]);
    await expect(core.host.start()).rejects.toThrow(/no handler for declared action incomplete.run/);
  });

  it('types action params from their schema', () => {
    definePlugin({
      id: 'typed',
      version: '1.0.0',
      core: '*',
      config: z.object({ url: z.string() }),
      actions: { go: { params: z.object({ n: z.number() }) } },
      setup: (ctx) => {
        expectTypeOf(ctx.config).toEqualTypeOf<{ url: string }>();
        return {
          actions: {
            go: (params) => {
              expectTypeOf(params).toEqualTypeOf<{ n: number }>();
              // @ts-expect-error n is a number
              params.n.toUpperCase();
              return params.n;
            },
          },
        };
      },
    });
  });
});
