// Turns `rules:` into checked, ready-to-run rules. Everything that can be known before an event
// arrives is checked here, at load: the event types exist, the actions exist, literal `with` params
// pass the action's schema, templates and conditions parse. Each failure is a config problem with
// its place in the file.
import {
  type Core,
  compileCondition,
  compileValue,
  isSwitchyardError,
  isTemplated,
  type SwitchyardEvent,
} from '@switchyard/core';
import { formatPath } from '../config/errors.js';
import type { LoadedConfig } from '../config/load.js';
import type { RuleConfig } from '../config/schema.js';
import { didYouMean } from '../config/schema.js';
import { type ConfigProblem, RunnerErrorCodes } from '../errors.js';

/** What templates and conditions of a rule see. */
export type RuleScope = {
  data: unknown;
  event: SwitchyardEvent;
  type: string;
  subject: string | undefined;
  id: string;
  source: string;
  time: string;
  correlationid: string;
  causationid: string | undefined;
};

export function ruleScope(event: SwitchyardEvent): RuleScope {
  return {
    data: event.data,
    event,
    type: event.type,
    subject: event.subject,
    id: event.id,
    source: event.source,
    time: event.time,
    correlationid: event.correlationid,
    causationid: event.causationid,
  };
}

export interface CompiledAction {
  action: string;
  render(scope: RuleScope): unknown;
  templated: boolean;
}

export interface CompiledRule {
  name: string;
  /** Durable subscription id. */
  subscription: string;
  on: string[];
  condition: { source: string; evaluate(scope: RuleScope): boolean } | undefined;
  actions: CompiledAction[];
  maxAttempts: number | undefined;
  timeoutMs: number | undefined;
  concurrency: number | undefined;
}

export function compileRules(
  loaded: LoadedConfig,
  core: Core,
  options: { failedPlugins?: ReadonlySet<string> } = {},
): { rules: CompiledRule[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const rules: CompiledRule[] = [];
  const failed = options.failedPlugins ?? new Set<string>();
  const at = (path: Array<string | number>, code: string, message: string) =>
    problems.push(loaded.locator.problem(path, code, message));
  /** A template/condition error, placed at its column inside the YAML value. */
  const engineError = (path: Array<string | number>, error: unknown) => {
    const details = isSwitchyardError(error) ? error.details : undefined;
    const where = formatPath(path);
    let message = messageOf(error);
    if (message.startsWith(`${where}: `)) message = message.slice(where.length + 2);
    const place =
      typeof details?.line === 'number' && typeof details.column === 'number'
        ? loaded.locator.inside(path, details.line, details.column)
        : loaded.locator.at(path);
    problems.push({
      file: loaded.locator.file,
      ...place,
      path: where,
      code: codeOf(error, RunnerErrorCodes.CONFIG_TEMPLATE),
      message,
    });
  };
  loaded.config.rules.forEach((rule: RuleConfig, position) => {
    const index = loaded.ruleIndexes?.[position] ?? position;
    const base: Array<string | number> = ['rules', index];
    const on = Array.isArray(rule.on) ? rule.on : [rule.on];
    on.forEach((type, i) => {
      if (core.registry.has(type)) return;
      if (failed.size > 0) return; // a plugin that failed to load may define it; its error says enough
      const known = core.registry.types();
      const guess = didYouMean(type, known);
      at(
        Array.isArray(rule.on) ? [...base, 'on', i] : [...base, 'on'],
        RunnerErrorCodes.CONFIG_RULE_EVENT,
        `unknown event type "${type}"${guess ? `; did you mean "${guess}"?` : ''} (known: ${known.join(', ')}); load the plugin that emits it`,
      );
    });
    let condition: CompiledRule['condition'];
    if (rule.if !== undefined) {
      try {
        const compiled = compileCondition(rule.if, formatPath([...base, 'if']));
        condition = { source: rule.if, evaluate: (scope) => compiled.evaluate(scope) };
      } catch (error) {
        engineError([...base, 'if'], error);
      }
    }
    const actions: CompiledAction[] = [];
    rule.do.forEach((step, i) => {
      const path = [...base, 'do', i];
      const plugin = step.action.split('.')[0]!;
      const spec = core.host.spec(step.action);
      if (!spec) {
        if (!failed.has(plugin)) {
          const names = core.host.actionNames();
          const guess = didYouMean(step.action, names);
          at(
            [...path, 'action'],
            RunnerErrorCodes.CONFIG_RULE_ACTION,
            `unknown action "${step.action}"${guess ? `; did you mean "${guess}"?` : ''}; ${
              names.length > 0 ? `loaded actions: ${names.join(', ')}` : 'no plugin with actions is loaded'
            }${loaded.config.plugins[plugin] ? '' : ` (add plugins.${plugin} to load it)`}`,
          );
        }
      }
      let compiled: ReturnType<typeof compileValue> | undefined;
      try {
        compiled = compileValue(step.with, formatPath([...path, 'with']));
      } catch (error) {
        engineError(templatePathOf(error) ?? [...path, 'with'], error);
      }
      if (spec && compiled) {
        // Literal params are checked now; a templated value is only known when an event arrives.
        const templated = templatedPaths(step.with);
        const parsed = spec.params.safeParse(step.with);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) {
            const issuePath = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
            const touchesTemplate = templated.some(
              (t) => startsWith(issuePath, t) || (issuePath.length > 0 && startsWith(t, issuePath)),
            );
            if (touchesTemplate) continue;
            at(
              [...path, 'with', ...issuePath],
              RunnerErrorCodes.CONFIG_RULE_PARAMS,
              `${step.action}: ${issuePath.length ? `${issuePath.join('.')}: ` : ''}${issue.message}`,
            );
          }
        }
      }
      if (compiled) {
        const c = compiled;
        actions.push({ action: step.action, render: (scope) => c.render(scope), templated: c.templated });
      }
    });
    rules.push({
      name: rule.name,
      subscription: `rule:${rule.name}`,
      on,
      condition,
      actions,
      maxAttempts: rule.maxAttempts,
      timeoutMs: rule.timeout,
      concurrency: rule.concurrency,
    });
  });
  return { rules, problems };
}

function startsWith(path: ReadonlyArray<string | number>, prefix: ReadonlyArray<string | number>): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => String(p) === String(path[i]));
}

/** Paths (below `with`) of every string that holds a template. */
function templatedPaths(value: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value === 'string') return isTemplated(value) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => templatedPaths(v, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => templatedPaths(v, [...path, k]));
  }
  return [];
}

function codeOf(error: unknown, fallback: string): string {
  return isSwitchyardError(error) ? error.code : fallback;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The config path a template error names in its details (`where`), as segments. */
function templatePathOf(error: unknown): Array<string | number> | undefined {
  const where = isSwitchyardError(error) ? error.details?.where : undefined;
  if (typeof where !== 'string') return undefined;
  const segments: Array<string | number> = [];
  for (const m of where.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) segments.push(Number(m[2]));
    else if (m[1] !== undefined) segments.push(m[1]);
  }
  return segments;
}
