// The `switchyard` command's definition (cli.ts is the executable). Each command's module is imported only when it runs, so `switchyard
// emit` from a CI job does not load Fastify, and `run` reaches ready sooner.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { GlobalOptions } from './io.js';

const VERSION = '0.1.0';

function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('switchyard')
    .description('Event bus for CI/CD tools: run the daemon, check the config, send and inspect events.')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'config file', './switchyard.yaml')
    .option('--url <url>', 'daemon URL (default: SWITCHYARD_URL, then the config’s server section)')
    .option('--token <token>', 'API token (default: SWITCHYARD_TOKEN, then server.token)')
    .option('--json', 'machine-readable output')
    .option('--no-color', 'no colours (also NO_COLOR=1; colours are only used on a terminal)')
    .option('--verbose', 'stack traces on errors')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description(
      'run the daemon: webhooks, the event API, rules and plugins (SIGTERM drains, SIGHUP reloads)',
    )
    .option('--port <port>', 'override server.port', parsePort)
    .option('--host <host>', 'override server.host')
    .action(async (opts: { port?: number; host?: string }, cmd: Command) => {
      const { runCommand } = await import('./commands/run.js');
      await runCommand(globals(cmd), opts);
    });

  program
    .command('check')
    .description(
      'validate the config, plugins, rules and pipelines; print the wiring (events → rules → actions)',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const { checkCommand } = await import('./commands/check.js');
      return checkCommand(globals(cmd));
    });

  program
    .command('emit')
    .description('send an event to a running daemon (exit 0 only when it was accepted)')
    .argument('<type>', 'event type, e.g. DeploymentCompleted')
    .requiredOption('-d, --data <json>', 'event data: JSON, @file.json or @- for stdin')
    .option('-s, --subject <subject>', 'CloudEvents subject, e.g. PROJ-123')
    .option('--source <source>', 'CloudEvents source', 'switchyard/cli')
    .option('--id <id>', 'event id (default: a new UUID); the same source + id is stored once')
    .action(
      async (
        type: string,
        opts: { data: string; subject?: string; source: string; id?: string },
        cmd: Command,
      ) => {
        const { emitCommand } = await import('./commands/emit.js');
        await emitCommand(globals(cmd), type, opts);
      },
    );

  program
    .command('events')
    .description('list recent events, or follow new ones')
    .option('-t, --type <type>', 'only this event type')
    .option('-s, --subject <subject>', 'only this subject')
    .option('--correlation <id>', 'only this causal chain')
    .option('--since <time>', 'ISO time or epoch ms')
    .option('-n, --limit <n>', 'how many (1-1000)', parseLimit, 50)
    .option('-f, --follow', 'keep printing new events until interrupted')
    .action(async (opts: EventsOpts, cmd: Command) => {
      const { eventsCommand } = await import('./commands/events.js');
      await eventsCommand(globals(cmd), opts);
    });

  program
    .command('trace')
    .description('print the causal tree of an event: what caused it and everything it caused')
    .argument('<id>', 'event id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { traceCommand } = await import('./commands/trace.js');
      await traceCommand(globals(cmd), id);
    });

  const dlq = program.command('dlq').description('dead letters: list, replay, drop');
  dlq
    .command('list')
    .description('list dead letters')
    .option('--subscription <id>', 'only this subscription, e.g. rule:notify')
    .option('-t, --type <type>', 'only this event type')
    .option('-n, --limit <n>', 'how many', parseLimit)
    .action(async (opts: { subscription?: string; type?: string; limit?: number }, cmd: Command) => {
      const { dlqList } = await import('./commands/dlq.js');
      await dlqList(globals(cmd), opts);
    });
  dlq
    .command('replay')
    .description('put dead letters back on their subscription: one id, --subscription/--type, or --all')
    .argument('[id]', 'dead letter id (from dlq list)')
    .option('--all', 'replay every dead letter')
    .option('--subscription <id>', 'replay this subscription’s dead letters')
    .option('-t, --type <type>', 'replay dead letters of this event type')
    .action(
      async (
        id: string | undefined,
        opts: { all?: boolean; subscription?: string; type?: string },
        cmd: Command,
      ) => {
        const { dlqReplay } = await import('./commands/dlq.js');
        await dlqReplay(globals(cmd), id, opts);
      },
    );
  dlq
    .command('drop')
    .description('delete a dead letter for good')
    .argument('<id>', 'dead letter id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { dlqDrop } = await import('./commands/dlq.js');
      await dlqDrop(globals(cmd), id);
    });

  const pipeline = program
    .command('pipeline')
    .description('pipelines of the pipeline plugin on a running daemon: list, runs, logs, run');
  pipeline
    .command('list')
    .description('the loaded pipelines and their stages')
    .action(async (_opts: unknown, cmd: Command) => {
      const { pipelineList } = await import('./commands/pipeline.js');
      await pipelineList(globals(cmd));
    });
  pipeline
    .command('runs')
    .description('recent runs, newest first')
    .option('-p, --pipeline <name>', 'only this pipeline')
    .option('-i, --issue <key>', 'only runs for this issue')
    .option('-n, --limit <n>', 'how many (the plugin answers at most 500; default 20)', parseRunLimit)
    .action(async (opts: { pipeline?: string; issue?: string; limit?: number }, cmd: Command) => {
      const { pipelineRuns } = await import('./commands/pipeline.js');
      await pipelineRuns(globals(cmd), opts);
    });
  pipeline
    .command('logs')
    .description('the log of a run (or one step of it)')
    .argument('<run>', 'run id (from pipeline runs)')
    .option('-s, --step <step>', 'step number or name')
    .action(async (run: string, opts: { step?: string }, cmd: Command) => {
      const { pipelineLogs } = await import('./commands/pipeline.js');
      await pipelineLogs(globals(cmd), run, opts);
    });
  pipeline
    .command('run')
    .description('start a pipeline by hand')
    .argument('<name>', 'pipeline name')
    .option('-i, --issue <key>', 'the Jira issue the run is for (its fields come from its last transition)')
    .action(async (name: string, opts: { issue?: string }, cmd: Command) => {
      const { pipelineRun } = await import('./commands/pipeline.js');
      await pipelineRun(globals(cmd), name, opts);
    });

  program
    .command('plugins')
    .description('the plugins the config loads: versions, core range, compatibility, actions, events')
    .action(async (_opts: unknown, cmd: Command) => {
      const { pluginsCommand } = await import('./commands/plugins.js');
      await pluginsCommand(globals(cmd));
    });

  program
    .command('schema')
    .description('print the JSON Schema of the config (with each configured plugin’s options) for editors')
    .action(async (_opts: unknown, cmd: Command) => {
      const { schemaCommand } = await import('./commands/schema.js');
      await schemaCommand(globals(cmd));
    });

  for (const command of [program, ...program.commands, ...dlq.commands, ...pipeline.commands]) {
    command.exitOverride();
    command.configureHelp({ showGlobalOptions: true });
  }
  return program;
}

export interface EventsOpts {
  type?: string;
  subject?: string;
  correlation?: string;
  since?: string;
  limit: number;
  follow?: boolean;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError('expected a number from 1 to 1000');
  return n;
}

/** `pipeline runs -n`: the pipeline plugin's GET /runs takes 1 to 500. */
function parseRunLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new InvalidArgumentError('expected a number from 1 to 500');
  return n;
}

/** Runs the CLI; resolves with the exit code (commands that keep running resolve when they stop). */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  let verbose = argv.includes('--verbose');
  try {
    const result = await program.parseAsync(argv);
    verbose = Boolean(result.opts().verbose);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, verbose, argv.includes('--json'));
  }
}

async function reportError(error: unknown, verbose: boolean, json: boolean): Promise<number> {
  if (error instanceof CommanderError) {
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    ) {
      return 0;
    }
    // commander already printed its message for its own errors; ours (parse functions) it prints too.
    return error.exitCode === 0 ? 0 : 2;
  }
  const { isConfigError, formatProblem } = await import('../errors.js');
  if (isConfigError(error)) {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, problems: error.problems }, null, 2)}\n`);
    else for (const p of error.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return 1;
  }
  const e = error as Error & { code?: string; exitCode?: number };
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ok: false, error: { code: e.code, message: e.message } }, null, 2)}\n`,
    );
  } else {
    process.stderr.write(
      `error: ${e.message ?? String(error)}${e.code?.startsWith('SY_') ? ` [${e.code}]` : ''}\n`,
    );
    if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
  }
  return typeof e.exitCode === 'number' ? e.exitCode : 1;
}
