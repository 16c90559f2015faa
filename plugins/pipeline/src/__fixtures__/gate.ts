// Pipelines whose one step waits for the test: it logs "start <run> <pid>" to the gate's log, waits
// until the test releases that run (or all), and logs "end <run>". Used by the suites that run
// several runners on one store, to hold runs at a known point and read the order they ran in.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { World } from './setup.js';

export class Gate {
  readonly dir: string;

  /** Creates the gate in the world's directory and points GATE_DIR (read by the step) at it. */
  constructor(private readonly world: World) {
    this.dir = join(world.dir, 'gate');
    mkdirSync(this.dir);
    process.env.GATE_DIR = this.dir;
  }

  /** Writes the pipeline file `gate-<concurrency>.yaml` (pipeline "gate") and returns its path. */
  pipeline(concurrency: 'queue' | 'replace' = 'queue'): string {
    const wait =
      'echo "start $SWITCHYARD_RUN_ID $$" >> "$GATE_DIR/log"; ' +
      'while [ ! -e "$GATE_DIR/release-$SWITCHYARD_RUN_ID" ] && [ ! -e "$GATE_DIR/release-all" ]; do sleep 0.05; done; ' +
      'echo "end $SWITCHYARD_RUN_ID" >> "$GATE_DIR/log"';
    return this.world.file(
      `gate-${concurrency}.yaml`,
      `pipeline:
  name: gate
  concurrency: ${concurrency}
  triggers: [ { type: jira-issue, status: Ready for Development } ]
  stages:
    - name: work
      steps:
        - type: build
          command: '${wait}'
`,
    );
  }

  /** Lets the run's step finish ("all": every step, now and later). */
  release(runId: string | 'all'): void {
    writeFileSync(join(this.dir, `release-${runId}`), '');
  }

  /** The log's lines: "start <run> <pid>" and "end <run>". */
  log(): string[] {
    try {
      return readFileSync(join(this.dir, 'log'), 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** Starts and ends in the order they happened, without pids. */
  order(): string[] {
    return this.log().map((line) => line.split(' ').slice(0, 2).join(' '));
  }

  /** The pid of the run's step process. */
  pidOf(runId: string): number {
    const line = this.log().find((l) => l.startsWith(`start ${runId} `))!;
    return Number(line.split(' ')[2]);
  }

  /** Releases every step and forgets GATE_DIR (call before the world closes). */
  close(): void {
    this.release('all');
    delete process.env.GATE_DIR;
  }
}
