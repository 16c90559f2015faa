// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${env:…} is config syntax here
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../src/config/json-schema.js';
import { formatProblem, isConfigError, loadConfig, prepare } from '../src/index.js';
import { loadPluginModules } from '../src/plugins/load.js';
import { describeWiring, formatWiring, painter } from '../src/wiring.js';
import { ALERT, ECHO, SECRET, tempDir, writeConfig } from './helpers.js';

const env = { SY_SECRET: SECRET };

async function problems(text: string): Promise<string[]> {
  const dir = tempDir();
  const path = writeConfig(dir, text);
  try {
    await prepare(loadConfig(path, { env, cwd: dir }));
  } catch (error) {
    if (!isConfigError(error)) throw error;
    return error.problems.map(formatProblem);
  }
  throw new Error('expected problems');
}

const echo = (options = '{ greeting: hi }') =>
  `  echo: { package: ${JSON.stringify(ECHO)}, options: ${options} }`;

describe('plugin and rule checks at load', () => {
  it('maps plugin option problems to file:line:col', async () => {
    // Columns depend on the fixture's absolute path (the checkout's location), so derive them.
    const line = echo('{ greting: hi }');
    const options = line.indexOf('{ greting') + 1;
    expect(await problems(['store: { kind: memory }', 'plugins:', line].join('\n'))).toEqual([
      `switchyard.yaml:3:${options}: plugins.echo.options.greeting: required (expected string) [SY_PLUGIN_CONFIG_INVALID]`,
      `switchyard.yaml:3:${options + 2}: plugins.echo.options.greting: unknown key "greting"; did you mean "greeting"? (allowed: greeting, token, record) [SY_CONFIG_UNKNOWN_KEY]`,
    ]);
  });

  it('names a missing plugin package with the install command', async () => {
    const got = await problems('store: { kind: memory }\nplugins:\n  nosuch: { options: {} }\n');
    expect(got).toEqual([
      'switchyard.yaml:3:3: plugins.nosuch: cannot find module "@switchyard/plugin-nosuch" next to switchyard.yaml or the runner; install it (npm install @switchyard/plugin-nosuch) or set plugins.nosuch.package [SY_CONFIG_PLUGIN_NOT_FOUND]',
    ]);
  });

  it('names a missing plugin file', async () => {
    const got = await problems('store: { kind: memory }\nplugins:\n  x: { package: ./nope.js }\n');
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(
      /^switchyard\.yaml:3:17: plugins\.x\.package: plugin file .*\/nope\.js does not exist; fix plugins\.x\.package \(paths are relative to the config file\) \[SY_CONFIG_PLUGIN_NOT_FOUND\]$/,
    );
  });

  it('checks rules: event types, actions, literal params, templates and conditions', async () => {
    const got = await problems(
      [
        'store: { kind: memory }',
        'plugins:',
        echo(),
        'rules:',
        '  - name: a',
        '    on: DeploymentCompleed',
        '    do: [ { action: echo.sey } ]',
        '  - name: b',
        '    on: EchoHeard',
        '    do:',
        '      - action: echo.say',
        '        with: { text: 5 }',
        '      - action: echo.say',
        '        with: { text: "{{ .data.text }}", count: "{{ .data.length }}" }',
        '      - action: nope.run',
        '  - name: c',
        '    on: EchoHeard',
        '    if: data.text ==',
        '    do: [ { action: echo.say, with: { text: "{{ .data.text " } } ]',
      ].join('\n'),
    );
    expect(got.slice(0, 4)).toEqual([
      'switchyard.yaml:6:9: rules[0].on: unknown event type "DeploymentCompleed"; did you mean "DeploymentCompleted"? (known: DeploymentCompleted, EchoHeard, IssueTransitioned, MetricValidated); load the plugin that emits it [SY_CONFIG_RULE_EVENT]',
      'switchyard.yaml:7:21: rules[0].do[0].action: unknown action "echo.sey"; did you mean "echo.say"?; loaded actions: echo.fail, echo.say, echo.slow [SY_CONFIG_RULE_ACTION]',
      'switchyard.yaml:12:23: rules[1].do[0].with.text: echo.say: text: Invalid input: expected string, received number [SY_CONFIG_RULE_PARAMS]',
      'switchyard.yaml:15:17: rules[1].do[2].action: unknown action "nope.run"; loaded actions: echo.fail, echo.say, echo.slow (add plugins.nope to load it) [SY_CONFIG_RULE_ACTION]',
    ]);
    // The condition and the template do not parse: each is reported at its column with the engine's code.
    expect(got[4]).toMatch(
      /^switchyard\.yaml:18:21: rules\[2\]\.if: condition .*\n {2}data\.text ==\n.*\[SY_CONDITION_SYNTAX\]$/s,
    );
    expect(got[5]).toMatch(
      /^switchyard\.yaml:19:46: rules\[2\]\.do\[0\]\.with\.text: template unclosed .*\[SY_TEMPLATE_SYNTAX\]$/s,
    );
    expect(got).toHaveLength(6);
  });

  it('does not pile rule errors on top of a plugin that failed to load', async () => {
    const got = await problems(
      [
        'store: { kind: memory }',
        'plugins:',
        '  gone: { package: ./gone.js }',
        'rules:',
        '  - { name: a, on: GoneEvent, do: [ { action: gone.run } ] }',
      ].join('\n'),
    );
    expect(got).toHaveLength(1);
    expect(got[0]).toContain('SY_CONFIG_PLUGIN_NOT_FOUND');
  });

  it('needs the pipeline plugin for pipeline files, and the files must exist', async () => {
    const got = await problems(
      'store: { kind: memory }\npipelines: [ ./pipelines/*.yaml, ./missing.yaml ]\n',
    );
    expect(got).toEqual([
      expect.stringMatching(/^switchyard\.yaml:2:12: pipelines: pipeline files need the pipeline plugin/),
      expect.stringMatching(
        /^switchyard\.yaml:2:14: pipelines\[0\]: no pipeline file matches "\.\/pipelines\/\*\.yaml"/,
      ),
      expect.stringMatching(
        /^switchyard\.yaml:2:34: pipelines\[1\]: pipeline file .*missing\.yaml does not exist/,
      ),
    ]);
  });
});

describe('wiring and schema', () => {
  it('shows events → rules → actions and who emits each event, without secrets', async () => {
    const dir = tempDir();
    const path = writeConfig(
      dir,
      [
        'store: { kind: memory }',
        'plugins:',
        echo('{ greeting: hi, token: ${env:SY_SECRET} }'),
        `  prometheus: { package: ${JSON.stringify(ALERT)} }`,
        'rules:',
        '  - name: notify',
        '    on: DeploymentCompleted',
        '    if: data.environment == "production"',
        '    do: [ { action: echo.say, with: { text: "x" } }, { action: echo.fail } ]',
      ].join('\n'),
    );
    const loaded = loadConfig(path, { env, cwd: dir });
    const prepared = await prepare(loaded);
    const wiring = describeWiring(prepared);
    expect(wiring.events.find((e) => e.type === 'EchoHeard')).toEqual({
      type: 'EchoHeard',
      definedBy: 'echo',
      emittedBy: ['echo'],
      rules: [],
      subscribers: [],
    });
    expect(wiring.events.find((e) => e.type === 'DeploymentCompleted')?.rules).toEqual([
      { name: 'notify', if: 'data.environment == "production"', actions: ['echo.say', 'echo.fail'] },
    ]);
    const text = formatWiring(wiring, painter(false));
    expect(text).toContain('→ rule notify if data.environment == "production" → echo.say → echo.fail');
    expect(text).toContain('EchoHeard (defined by echo; emitted by echo)');
    expect(text).not.toContain('\x1b[');
    expect(JSON.stringify(wiring)).not.toContain(SECRET);
  });

  it('emits a JSON Schema with each plugin’s options', async () => {
    const dir = tempDir();
    const path = writeConfig(dir, `store: { kind: memory }\nplugins:\n${echo()}\n`);
    const loaded = loadConfig(path, { env, cwd: dir });
    const { entries } = await loadPluginModules(loaded);
    const schema = configJsonSchema(entries, ['echo.say']) as any;
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual([
      'server',
      'store',
      'plugins',
      'rules',
      'pipelines',
      'log',
    ]);
    expect(schema.properties.plugins.properties.echo.properties.options.properties.greeting).toEqual({
      type: 'string',
      minLength: 1,
    });
    expect(schema.properties.plugins.properties.echo.properties.options.required).toEqual(['greeting']);
    expect(schema.properties.rules.items.properties.do.items.properties.action.examples).toEqual([
      'echo.say',
    ]);
  });
});
