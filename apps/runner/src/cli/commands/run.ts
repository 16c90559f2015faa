import { startDaemon } from '../../daemon.js';
import type { GlobalOptions } from '../io.js';

export async function runCommand(g: GlobalOptions, opts: { port?: number; host?: string }): Promise<void> {
  await startDaemon({
    ...(g.config ? { config: g.config } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    handleSignals: true,
  });
}
