import { Agent, type Dispatcher } from 'undici';

export interface RecordedCall {
  method: string;
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * An undici dispatcher that records every outbound call (then sends it on), for asserting what a
 * plugin sent without mocking its functions. Pass `dispatcher` to createTestHost({ dispatcher }).
 */
export function recordHttp(inner: Dispatcher = new Agent()): {
  dispatcher: Dispatcher;
  calls: RecordedCall[];
} {
  const calls: RecordedCall[] = [];
  const dispatcher = inner.compose((dispatch) => (options, handler) => {
    const headers: Record<string, string> = {};
    const raw = options.headers;
    if (Array.isArray(raw)) {
      for (let i = 0; i + 1 < raw.length; i += 2) headers[String(raw[i]).toLowerCase()] = String(raw[i + 1]);
    } else if (raw && typeof raw === 'object') {
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (v !== undefined) headers[k.toLowerCase()] = String(v);
      }
    }
    const body =
      typeof options.body === 'string'
        ? options.body
        : Buffer.isBuffer(options.body)
          ? options.body.toString('utf8')
          : options.body instanceof Uint8Array
            ? Buffer.from(options.body).toString('utf8')
            : undefined;
    calls.push({
      method: options.method,
      origin: String(options.origin ?? ''),
      path: options.path,
      headers,
      body,
    });
    return dispatch(options, handler);
  });
  return { dispatcher, calls };
}
