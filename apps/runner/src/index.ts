// Public entry of @switchyard/runner: the daemon and the config loader for tests, tools and the
// end-to-end suite. The `switchyard` command lives in cli.ts.
export { type ClientOptions, clientFromOptions, SwitchyardClient } from './client.js';
export { configJsonSchema } from './config/json-schema.js';
export {
  DEFAULT_CONFIG_FILE,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  loadServerSection,
} from './config/load.js';
export {
  configSchema,
  type RuleConfig,
  type ServerConfig,
  type StoreConfig,
  type SwitchyardConfig,
} from './config/schema.js';
export { type Daemon, type ReloadResult, type StartDaemonOptions, startDaemon } from './daemon.js';
export {
  ConfigError,
  type ConfigProblem,
  formatProblem,
  isConfigError,
  RunnerError,
  type RunnerErrorCode,
  RunnerErrorCodes,
} from './errors.js';
export { type Prepared, type PrepareOptions, prepare } from './prepare.js';
export { type CompiledRule, compileRules, type RuleScope, ruleScope } from './rules/compile.js';
export { openStore } from './store.js';
export { describeWiring, formatWiring, type Wiring } from './wiring.js';
