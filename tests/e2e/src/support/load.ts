// A resumable event loader for crash and shutdown suites: posts a fixed set of events (ids chosen
// up front, so a post whose answer was lost can be sent again and is stored once) to whatever daemon
// is running, remembers which ids were accepted (202), and puts the others back in the queue when
// the daemon dies under it.
import type { Api } from './daemon.js';

export interface LoadStats {
  /** 202 answers with duplicate: false. */
  accepted: number;
  /** 202 answers with duplicate: true: the append had committed but the first answer was lost. */
  duplicates: number;
  /** Posts that failed (connection refused/reset, 5xx) and went back in the queue. */
  failures: number;
  /** Other answers (4xx): a bug in the loader or the daemon; the ids are kept in `rejected`. */
  rejected: Map<string, { status: number; body: unknown }>;
}

export class EventLoader {
  readonly queue: string[];
  /** Every id the daemon answered 202 for, in order. */
  readonly accepted = new Set<string>();
  readonly stats: LoadStats = { accepted: 0, duplicates: 0, failures: 0, rejected: new Map() };

  constructor(
    ids: readonly string[],
    private readonly build: (id: string) => Record<string, unknown>,
  ) {
    this.queue = [...ids];
  }

  get remaining(): number {
    return this.queue.length;
  }

  /**
   * Posts queued events with `concurrency` in flight until the queue is empty or `alive()` turns
   * false (then in-flight posts fail and their ids are queued again). Ids answered 202 are never
   * posted again.
   */
  async pump(api: Api, options: { concurrency: number; alive: () => boolean }): Promise<void> {
    const worker = async () => {
      while (options.alive()) {
        const id = this.queue.shift();
        if (id === undefined) return;
        try {
          const res = await api.postEvent(this.build(id));
          if (res.status === 202) {
            this.accepted.add(id);
            if (res.body.duplicate) this.stats.duplicates++;
            else this.stats.accepted++;
            continue;
          }
          if (res.status >= 500) {
            this.stats.failures++;
            this.queue.push(id);
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          this.stats.rejected.set(id, { status: res.status, body: res.body });
        } catch {
          this.stats.failures++;
          this.queue.push(id);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  }
}
