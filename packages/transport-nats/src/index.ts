export type { NatsCredentials } from './connection.js';
export { type NatsErrorCode, NatsErrorCodes } from './errors.js';
export { decodeToken, encodeToken } from './names.js';
export { NatsTransport, type NatsTransportOptions } from './transport.js';
