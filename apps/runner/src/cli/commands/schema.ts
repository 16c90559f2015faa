import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { configJsonSchema } from '../../config/json-schema.js';
import { loadConfig } from '../../config/load.js';
import { loadPluginModules } from '../../plugins/load.js';
import { prepare } from '../../prepare.js';
import { createIo, type GlobalOptions } from '../io.js';

/** The config's JSON Schema; with a config file, its plugins' options and actions are included. */
export async function schemaCommand(g: GlobalOptions): Promise<void> {
  const io = createIo(g);
  const path = g.config ?? './switchyard.yaml';
  if (!existsSync(resolve(path))) {
    io.printJson(configJsonSchema());
    return;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(path);
  } catch (error) {
    // Editors need a schema most when the config is broken: give the generic one and say why.
    io.err(
      `warning: ${path} has problems (run switchyard check); printing the schema without plugin options`,
    );
    void error;
    io.printJson(configJsonSchema());
    return;
  }
  const { entries } = await loadPluginModules(loaded);
  let actions: string[] = [];
  try {
    actions = (await prepare(loaded)).core.host.actionNames();
  } catch {
    // A config with problems still gets a schema; `check` reports the problems.
  }
  io.printJson(configJsonSchema(entries, actions));
}
