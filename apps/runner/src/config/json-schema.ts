// `switchyard schema`: a JSON Schema of the whole config, each loaded plugin's options included, for
// editors (yaml-language-server: `# yaml-language-server: $schema=./switchyard.schema.json`).
import type { PluginEntry } from '@switchyard/core';
import { unwrapPlugin } from '@switchyard/core';
import { z } from 'zod';
import { configSchema, pluginEntrySchema } from './schema.js';

type JsonSchema = Record<string, unknown>;

const toJson = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;

export function configJsonSchema(
  plugins: readonly PluginEntry[] = [],
  actions: readonly string[] = [],
): JsonSchema {
  const root = toJson(configSchema);
  const properties = root.properties as Record<string, JsonSchema>;
  const generic = toJson(pluginEntrySchema);
  delete generic.$schema;
  const perPlugin: Record<string, JsonSchema> = {};
  for (const entry of plugins) {
    const def = unwrapPlugin(entry.module) as { config?: z.ZodType; description?: string } | undefined;
    if (!def?.config) continue;
    const options = toJson(def.config);
    delete options.$schema;
    perPlugin[entry.key] = {
      type: 'object',
      additionalProperties: false,
      ...(def.description ? { description: def.description } : {}),
      properties: { package: { type: 'string' }, options },
    };
  }
  properties.plugins = {
    type: 'object',
    description: 'plugins.<key> loads @switchyard/plugin-<key> unless package names another module or path',
    properties: perPlugin,
    additionalProperties: generic,
  };
  if (actions.length > 0) {
    const rules = properties.rules as {
      items?: { properties?: { do?: { items?: { properties?: Record<string, JsonSchema> } } } };
    };
    const action = rules.items?.properties?.do?.items?.properties?.action;
    if (action) action.examples = [...actions];
  }
  root.title = 'switchyard.yaml';
  root.$id = 'https://switchyard.dev/schema/switchyard.json';
  return root;
}
