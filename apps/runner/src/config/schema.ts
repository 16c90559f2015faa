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
/** What JetStream accepts in a stream name and in every stream/bucket name derived from it. */
const NATS_STREAM = /^[A-Za-z0-9_-]{1,200}$/;
/** Dot-separated subject tokens, no wildcards. */
const NATS_SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** JetStream's own default duplicate window, which the transport also uses. */
export const DEFAULT_NATS_DUPLICATE_WINDOW = 120_000;

/**
 * NATS authentication: a path to a `.creds` file (JWT + NKey seed; relative to the config file), a
 * token, or a user and password. Secrets come from `${env:…}`/`${file:…}`, so they are masked.
 * One object schema with optional keys (not a union of two objects) so a misspelt key is reported
 * as an unknown key at its own line, and a half-given pair names the missing half.
 */
const natsCredentials = z.union([
  z.string().min(1, 'expected the path of a .creds file'),
  z
    .strictObject({
      token: z.string().min(1).optional(),
      user: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
    })
    .superRefine((c, ctx) => {
      const userPass = c.user !== undefined || c.password !== undefined;
      if (c.token !== undefined && userPass) {
        ctx.addIssue({
          code: 'custom',
          message: 'give either { token } or { user, password }, not both',
        });
      } else if (c.token === undefined && !userPass) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected the path of a .creds file, { token: … } or { user: …, password: … }',
        });
      } else if (userPass && c.user === undefined) {
        ctx.addIssue({ code: 'custom', path: ['user'], message: 'required with password' });
      } else if (userPass && c.password === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['password'],
          // biome-ignore lint/suspicious/noTemplateCurlyInString: config syntax shown to the user
          message: 'required with user (e.g. password: ${env:NATS_PASSWORD})',
        });
      }
    }),
]);

const natsStore = z
  .strictObject({
    kind: z.literal('nats'),
    /** One URL or a list (nats://host:4222); the client also learns the cluster's other nodes. */
    servers: z.union([
      z.string().min(1, 'expected a NATS URL like nats://127.0.0.1:4222'),
      z.array(z.string().min(1)).min(1, 'list at least one NATS URL (nats://host:4222)'),
    ]),
    /** Events stream; every other stream and bucket name derives from it. */
    stream: z.string().regex(NATS_STREAM, 'a stream name is 1-200 letters, digits, "_" or "-"').optional(),
    /** First subject token(s) (default switchyard for the default stream, else the stream name). */
    subjectPrefix: z
      .string()
      .regex(NATS_SUBJECT, 'a subject prefix is dot-separated tokens of letters, digits, "_" and "-"')
      .optional(),
    /** Connection name shown by the server (default <host name>:<pid>). */
    name: z.string().min(1).optional(),
    /** Replicas of streams and buckets when they are created (3 on a 3-node cluster). */
    replicas: z.number().int().min(1, 'replicas is 1-5').max(5, 'replicas is 1-5').optional(),
    /** Redelivery to another runner after this long without an ack (a running handler extends it). */
    ackWait: duration
      .pipe(
        z.number().min(1000, 'ackWait must be at least 1s (a running handler extends it every ackWait/3)'),
      )
      .optional(),
    /** How long JetStream remembers a delivery key / event id to drop a repeated ingest. */
    duplicateWindow: duration.pipe(z.number().min(1000, 'duplicateWindow must be at least 1s')).optional(),
    /** Age after which events, index entries, delivery and idempotency records go; 0 keeps them. */
    maxAge: duration.optional(),
    /** Unacknowledged messages per subscription across all runners. */
    maxAckPending: z.number().int().positive('maxAckPending must be at least 1').optional(),
    credentials: natsCredentials.optional(),
  })
  .superRefine((store, ctx) => {
    // JetStream refuses a stream whose duplicate window is longer than its max age.
    const window = store.duplicateWindow ?? DEFAULT_NATS_DUPLICATE_WINDOW;
    if (store.maxAge !== undefined && store.maxAge > 0 && window > store.maxAge) {
      ctx.addIssue({
        code: 'custom',
        path: [store.duplicateWindow !== undefined ? 'duplicateWindow' : 'maxAge'],
        message: `maxAge (${store.maxAge} ms) must be at least the duplicate window (${window} ms${
          store.duplicateWindow === undefined ? ', the default' : ''
        }); raise maxAge or lower duplicateWindow`,
      });
    }
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
export type NatsStoreConfig = z.output<typeof natsStore>;
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
  for (const [i, seg] of path.entries()) {
    if (!current) return undefined;
    if (current instanceof z.ZodObject) current = unwrap(current.shape[String(seg)] as z.ZodType | undefined);
    else if (current instanceof z.ZodArray) current = unwrap(current.element as z.ZodType);
    else if (current instanceof z.ZodRecord) current = unwrap(current.valueType as z.ZodType);
    else if (current instanceof z.ZodDiscriminatedUnion || current instanceof z.ZodUnion) {
      // The value's branch is not known here (store.kind may itself be wrong): the keys of every
      // branch that has this path, e.g. store.credentials is only in the nats store.
      const rest = path.slice(i);
      const keys = (current as z.ZodUnion<z.ZodType[]>).options.flatMap((o) => shapeAt(o, rest) ?? []);
      return keys.length > 0 ? [...new Set(keys)] : undefined;
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
