// What `switchyard check` shows: which plugin defines and emits each event, which rules listen to it
// and which actions those rules run.
import type { PluginInfo } from '@switchyard/core';
import type { Prepared } from './prepare.js';
import { describeStore } from './store.js';

export interface WiringEvent {
  type: string;
  /** "core" or the plugin id that defines the type. */
  definedBy: string;
  /** Plugins that emit it: the defining plugin and plugins with actions declaring it. */
  emittedBy: string[];
  rules: Array<{ name: string; if?: string; actions: string[] }>;
  /** Plugins that subscribe to it themselves. */
  subscribers: string[];
}

export interface Wiring {
  file: string;
  store: string;
  plugins: Array<
    Pick<PluginInfo, 'id' | 'version' | 'core' | 'compatible' | 'source' | 'emits' | 'subscribes'> & {
      actions: string[];
    }
  >;
  events: WiringEvent[];
  rules: Array<{ name: string; on: string[]; if?: string; actions: string[] }>;
  pipelines: string[];
}

export function describeWiring(prepared: Prepared): Wiring {
  const { core, rules, loaded } = prepared;
  const plugins = core.host.plugins();
  const events: WiringEvent[] = core.registry.types().map((type) => {
    const owner = core.registry.owner(type) ?? 'core';
    const definedBy = owner.startsWith('plugin ') ? owner.slice('plugin '.length) : owner;
    const emittedBy = new Set<string>();
    if (definedBy !== 'core') emittedBy.add(definedBy);
    for (const p of plugins) {
      if (p.emits.includes(type) || p.actions.some((a) => a.emits.includes(type))) emittedBy.add(p.id);
    }
    return {
      type,
      definedBy,
      emittedBy: [...emittedBy].sort(),
      rules: rules
        .filter((r) => r.on.includes(type))
        .map((r) => ({
          name: r.name,
          ...(r.condition ? { if: r.condition.source } : {}),
          actions: r.actions.map((a) => a.action),
        })),
      subscribers: plugins.filter((p) => p.subscribes.includes(type)).map((p) => p.id),
    };
  });
  return {
    file: loaded.file,
    store: describeStore(loaded.config.store, loaded.dir),
    plugins: plugins.map((p) => ({
      id: p.id,
      version: p.version,
      core: p.core,
      compatible: p.compatible,
      source: p.source,
      emits: p.emits,
      subscribes: p.subscribes,
      actions: p.actions.map((a) => a.name),
    })),
    events,
    rules: rules.map((r) => ({
      name: r.name,
      on: r.on,
      ...(r.condition ? { if: r.condition.source } : {}),
      actions: r.actions.map((a) => a.action),
    })),
    pipelines: prepared.pipelines,
  };
}

/** The wiring as terminal text. */
export function formatWiring(w: Wiring, paint: Paint): string {
  const lines: string[] = [];
  lines.push(`${paint.green('✓')} ${w.file} is valid`);
  lines.push(`  store: ${w.store}`);
  lines.push('');
  lines.push(paint.bold('Plugins'));
  if (w.plugins.length === 0) lines.push('  (none)');
  for (const p of w.plugins) {
    lines.push(`  ${paint.bold(p.id)} ${p.version} (core ${p.core}) ${paint.dim(p.source)}`);
    if (p.actions.length > 0) lines.push(`    actions: ${p.actions.join(', ')}`);
    if (p.emits.length > 0) lines.push(`    emits:   ${p.emits.join(', ')}`);
  }
  lines.push('');
  lines.push(paint.bold('Events → rules → actions'));
  for (const e of w.events) {
    const from =
      e.emittedBy.length > 0
        ? `emitted by ${e.emittedBy.join(', ')}`
        : 'emitted by no loaded plugin (POST /events)';
    lines.push(`  ${paint.cyan(e.type)} ${paint.dim(`(defined by ${e.definedBy}; ${from})`)}`);
    if (e.rules.length === 0 && e.subscribers.length === 0) lines.push(`    ${paint.dim('no rules')}`);
    for (const r of e.rules) {
      lines.push(
        `    → rule ${paint.bold(r.name)}${r.if ? paint.dim(` if ${r.if}`) : ''} → ${r.actions.join(' → ')}`,
      );
    }
    for (const s of e.subscribers) lines.push(`    → plugin ${s} (subscribes)`);
  }
  if (w.pipelines.length > 0) {
    lines.push('');
    lines.push(paint.bold('Pipelines'));
    for (const p of w.pipelines) lines.push(`  ${p}`);
  }
  return lines.join('\n');
}

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  yellow(s: string): string;
}

export function painter(enabled: boolean): Paint {
  const wrap = (open: number, close: number) => (s: string) =>
    enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    green: wrap(32, 39),
    red: wrap(31, 39),
    cyan: wrap(36, 39),
    yellow: wrap(33, 39),
  };
}
