import { loadAndPrepare } from '../../prepare.js';
import { createIo, type GlobalOptions } from '../io.js';

export async function pluginsCommand(g: GlobalOptions): Promise<void> {
  const io = createIo(g);
  const prepared = await loadAndPrepare(g.config, {});
  const { loaded } = prepared;
  const plugins = prepared.core.host.plugins().map(({ state: _state, routes: _routes, ...p }) => p);
  if (io.json) return io.out(loaded.secrets.redact(JSON.stringify(plugins, null, 2)));
  if (plugins.length === 0) return io.out(`${loaded.file} loads no plugins`);
  for (const p of plugins) {
    const compat = p.compatible ? io.paint.green('compatible') : io.paint.red('INCOMPATIBLE');
    io.out(`${io.paint.bold(p.id)} ${p.version}  core ${p.core} (${compat})  ${io.paint.dim(p.source)}`);
    if (p.description) io.out(`  ${p.description}`);
    if (p.actions.length > 0) io.out(`  actions: ${p.actions.map((a) => a.name).join(', ')}`);
    if (p.emits.length > 0) io.out(`  emits:   ${p.emits.join(', ')}`);
    if (p.subscribes.length > 0) io.out(`  listens: ${p.subscribes.join(', ')}`);
  }
}
