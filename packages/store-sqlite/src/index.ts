export { type SqliteErrorCode, SqliteErrorCodes } from './errors.js';
export type { SqliteTransportOptions } from './options.js';
export type { RetentionOptions } from './retention.js';
export type { Synchronous } from './schema.js';
export { SqliteTransport } from './sqlite-transport.js';
