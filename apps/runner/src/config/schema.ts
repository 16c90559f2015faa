import { z } from 'zod';

/** `500ms`, `30s`, `5m`, `1h`, `2d` or a number of milliseconds. */
export const duration = z.union([
  z.number().int().nonnegative(),
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like 500ms, 30s, 5m, 1h or 2d, found "${text}"`,
      });
      return z.NEVER;
    }
    return ms;
  }),
]);

export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return Math.round(Number(m[1]) * unit);
}

/** `512kb`, `1mb`, `1mib` or a number of bytes. */
export const bytes = z.union([
  z.number().int().positive(),
  z.string().transform((text, ctx) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)\s*$/i.exec(text);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 512kb or 1mb, found "${text}"` });
      return z.NEVER;
    }
    const unit = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 }[
      m[2]!.toLowerCase() as 'b'
    ];
    return Math.round(Number(m[1]) * unit);
  }),
]);

/** A port as a number, or a numeric string (as `${env:PORT}` resolves). */
const port = z
  .union([z.number(), z.string().regex(/^\d+$/, 'expected a port number').transform(Number)])
  .pipe(z.number().int().min(0, 'a port is 0-65535').max(65535, 'a port is 0-65535'));

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_SQLITE_PATH = './data/switchyard.db';

export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8080),
  /** Bearer token for /events and /dlq; required unless the server only listens on loopback. */
  token: z.string().min(16, 'the API token must be at least 16 characters').optional(),
  /** Largest accepted POST /events body. */
  bodyLimit: bytes.default(DEFAULT_BODY_LIMIT),
  /** How long SIGTERM waits for in-flight deliveries before releasing them. */
  shutdownTimeout: duration.default(10_000),
});

const sqliteStore = z.strictObject({
  kind: z.literal('sqlite'),
  /** Relative to the config file. */
  path: z.string().min(1).default(DEFAULT_SQLITE_PATH),
  /** full (default): fsync before 202; normal: survives a process crash, maybe not power loss. */
  synchronous: z.enum(['normal', 'full']).optional(),
  /** Delete old events: by age (e.g. 30d) and/or count; checked every `interval`. */
  retention: z
    .strictObject({
      maxAge: duration.optional(),
      maxEvents: z.number().int().positive().optional(),
      interval: duration.optional(),
    })
    .optional(),
  /** Caps the database size (e.g. 2gb); appends beyond it fail. */
  maxSize: bytes.optional(),
});
const memoryStore = z.strictObject({ kind: z.literal('memory') });
const natsStore = z.strictObject({
  kind: z.literal('nats'),
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  stream: z.string().min(1).optional(),
  /** Path to a NATS .creds file, relative to the config file. */
  credentials: z.string().min(1).optional(),
});
export const STORE_KINDS = ['sqlite', 'memory', 'nats'] as const;
export const storeSchema = z.discriminatedUnion('kind', [sqliteStore, memoryStore, natsStore], {
  error: () => `expected one of ${STORE_KINDS.join(', ')}`,
});

export const pluginEntrySchema = z.strictObject({
  /** Module name or path (relative to the config file); default `@switchyard/plugin-<key>`. */
  package: z.string().min(1).optional(),
  options: z.unknown().optional(),
});

export const actionStepSchema = z.strictObject({
  action: z.string().regex(/^[a-z][a-z0-9-]*\.[a-zA-Z][a-zA-Z0-9-]*$/, 'expected <plugin>.<action>'),
  with: z.record(z.string(), z.unknown()).default({}),
});

export const ruleSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'a rule name is lower-case letters, digits, ".", "_" or "-"'),
  on: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  if: z.string().min(1).optional(),
  do: z.array(actionStepSchema).min(1, 'a rule needs at least one action under do'),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  timeout: duration.optional(),
  concurrency: z.number().int().min(1).max(64).optional(),
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z.strictObject({
  server: serverSchema.default(serverSchema.parse({})),
  store: storeSchema.default({ kind: 'sqlite', path: DEFAULT_SQLITE_PATH }),
  plugins: z
    .record(z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'a plugin key is a lower-case id'), pluginEntrySchema)
    .default({}),
  rules: z.array(ruleSchema).default([]),
  /** Pipeline files: paths or globs relative to the config file. */
  pipelines: z.array(z.string().min(1)).default([]),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).default({ level: 'info' }),
});

export type SwitchyardConfig = z.output<typeof configSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type StoreConfig = z.output<typeof storeSchema>;
export type RuleConfig = z.output<typeof ruleSchema>;

/** The object schema at a config path (for did-you-mean on unknown keys). */
export function shapeAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let current: z.ZodType | undefined = schema;
  const unwrap = (s: z.ZodType | undefined): z.ZodType | undefined => {
    let node = s;
    for (let i = 0; i < 10 && node; i++) {
      if (node instanceof z.ZodOptional || node instanceof z.ZodDefault || node instanceof z.ZodNullable) {
        node = (node as z.ZodOptional<z.ZodType>).unwrap() as z.ZodType;
      } else if (node instanceof z.ZodPipe) {
        node = (node as unknown as { in: z.ZodType }).in;
      } else break;
    }
    return node;
  };
  current = unwrap(current);
  for (const seg of path) {
    if (!current) return undefined;
    if (current instanceof z.ZodObject) current = unwrap(current.shape[String(seg)] as z.ZodType | undefined);
    else if (current instanceof z.ZodArray) current = unwrap(current.element as z.ZodType);
    else if (current instanceof z.ZodRecord) current = unwrap(current.valueType as z.ZodType);
    else if (current instanceof z.ZodDiscriminatedUnion || current instanceof z.ZodUnion) {
      const options = (current as z.ZodUnion<z.ZodType[]>).options;
      const objects = options.map(unwrap).filter((o): o is z.ZodObject => o instanceof z.ZodObject);
      const keys = new Set(objects.flatMap((o) => Object.keys(o.shape)));
      return keys.size > 0 && path.indexOf(seg) === path.length ? [...keys] : undefined;
    } else return undefined;
  }
  current = unwrap(current);
  if (current instanceof z.ZodObject) return Object.keys(current.shape);
  if (current instanceof z.ZodDiscriminatedUnion || current instanceof z.ZodUnion) {
    const options = (current as z.ZodUnion<z.ZodType[]>).options;
    return [
      ...new Set(
        options
          .map(unwrap)
          .filter((o): o is z.ZodObject => o instanceof z.ZodObject)
          .flatMap((o) => Object.keys(o.shape)),
      ),
    ];
  }
  return undefined;
}

/** The closest candidate by edit distance, when it is close enough to be a typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
