// Output for CLI commands: colours only on a TTY (and never with NO_COLOR or --no-color), JSON for
// scripts with --json, one clear line per error.
import { type Paint, painter } from '../wiring.js';

export interface GlobalOptions {
  config?: string;
  url?: string;
  token?: string;
  json?: boolean;
  verbose?: boolean;
  color?: boolean;
}

export interface Io {
  paint: Paint;
  json: boolean;
  out(text: string): void;
  err(text: string): void;
  printJson(value: unknown): void;
}

export function createIo(
  options: GlobalOptions,
  streams = { stdout: process.stdout, stderr: process.stderr },
): Io {
  const colour =
    options.color !== false &&
    !process.env.NO_COLOR &&
    Boolean((streams.stdout as NodeJS.WriteStream).isTTY) &&
    process.env.TERM !== 'dumb';
  return {
    paint: painter(colour),
    json: Boolean(options.json),
    out: (text) => streams.stdout.write(`${text}\n`),
    err: (text) => streams.stderr.write(`${text}\n`),
    printJson: (value) => streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

/** `--data '{"a":1}'` or `--data @file.json` (`@-` reads stdin). */
export async function readJsonArgument(value: string, what: string): Promise<unknown> {
  const { RunnerError, RunnerErrorCodes } = await import('../errors.js');
  let text = value;
  let source = what;
  if (value.startsWith('@')) {
    const path = value.slice(1);
    source = path === '-' ? 'stdin' : path;
    try {
      if (path === '-') {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        text = Buffer.concat(chunks).toString('utf8');
      } else {
        const { readFileSync } = await import('node:fs');
        text = readFileSync(path, 'utf8');
      }
    } catch (error) {
      throw new RunnerError(
        RunnerErrorCodes.RUNNER_INPUT,
        `cannot read ${what} from ${source}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        { exitCode: 2 },
      );
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RunnerError(
      RunnerErrorCodes.RUNNER_INPUT,
      `${what} from ${source} is not valid JSON: ${(error as Error).message}`,
      { exitCode: 2 },
    );
  }
}
