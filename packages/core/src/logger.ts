import { type DestinationStream, type Logger, pino } from 'pino';
import { redactingDestination, type Secrets } from './secrets.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  secrets?: Secrets;
  destination?: { write(chunk: string): unknown };
  name?: string;
}

/** pino JSON logs; every line passes through the secret redactor when one is given. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const target = options.destination ?? process.stdout;
  const destination: DestinationStream = options.secrets
    ? redactingDestination(options.secrets, target)
    : (target as DestinationStream);
  return pino(
    {
      level: options.level ?? 'info',
      base: options.name ? { name: options.name } : null,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Fields that carry credentials by name are masked even before value-based redaction.
      redact: {
        paths: [
          '*.authorization',
          '*.Authorization',
          '*.token',
          '*.password',
          '*.secret',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** A logger that discards everything (tests, library use without a runner). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
