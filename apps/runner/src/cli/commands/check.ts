import { loadAndPrepare } from '../../prepare.js';
import { describeWiring, formatWiring } from '../../wiring.js';
import { createIo, type GlobalOptions } from '../io.js';

/** Validates everything a `run` would, without opening the store or starting a plugin. */
export async function checkCommand(g: GlobalOptions): Promise<void> {
  const io = createIo(g);
  const prepared = await loadAndPrepare(g.config, {});
  const { loaded } = prepared;
  const wiring = describeWiring(prepared);
  // Config values never reach the output, but plugin sources or rule conditions could quote one.
  if (io.json) io.out(loaded.secrets.redact(JSON.stringify({ ok: true, ...wiring }, null, 2)));
  else io.out(loaded.secrets.redact(formatWiring(wiring, io.paint)));
}
