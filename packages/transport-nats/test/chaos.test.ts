import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bus, builtinEvents, EventRegistry } from '@switchyard/core';
import { eventually, findNatsServer, type NatsServer, startNatsServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsTransport } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const worker = join(here, 'fixtures', 'worker.mjs');
const EVENTS = 5_000;
const CONCURRENCY = 16;

describe.skipIf(findNatsServer() === undefined)(
  'chaos: two worker processes, one SIGKILLed mid-stream',
  () => {
    let server: NatsServer;
    let dir: string;
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      // Workers are plain node processes importing built dist: core's comes from the ^build step
      // (turbo), this package's is compiled here so it matches the sources under test.
      execFileSync(
        process.execPath,
        [join(pkg, '../../node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
        {
          cwd: pkg,
          stdio: 'inherit',
        },
      );
      server = await startNatsServer({ jetstream: true });
      dir = mkdtempSync(join(tmpdir(), 'switchyard-chaos-'));
    }, 120_000);

    afterAll(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    function startWorker(name: string): Promise<ChildProcess> {
      const child = spawn(process.execPath, [worker], {
        env: {
          ...process.env,
          NATS_URL: server.url,
          STREAM: 'CHAOS',
          OUT: join(dir, `${name}.log`),
          CONCURRENCY: String(CONCURRENCY),
          ACK_WAIT_MS: '2000',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return new Promise((resolve, reject) => {
        child.once('exit', (code) =>
          reject(new Error(`worker ${name} exited with ${code} before it was ready`)),
        );
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve(child);
        });
      });
    }

    const handled = (name: string): string[] => {
      const file = join(dir, `${name}.log`);
      return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    };

    it('handles every event at least once, with duplicates bounded by the killed worker’s in-flight', async () => {
      const a = await startWorker('a');
      await startWorker('b');

      const transport = new NatsTransport({
        servers: [server.url],
        stream: 'CHAOS',
        name: 'chaos-publisher',
      });
      await transport.open();
      const registry = new EventRegistry();
      for (const def of builtinEvents) registry.register(def);
      const bus = new Bus({ transport, registry });
      const ids: string[] = [];
      let killedAt = -1;
      try {
        let next = 0;
        const publisher = async () => {
          while (next < EVENTS) {
            const n = next++;
            const { event } = await bus.publish('DeploymentCompleted', {
              service: 'api',
              environment: 'chaos',
              version: String(n),
              outcome: 'succeeded',
              issueKeys: [],
            });
            ids.push(event.id);
            // Kill worker a once it is well into the stream, while events are still arriving.
            if (killedAt < 0 && handled('a').length >= 500) {
              killedAt = n;
              a.kill('SIGKILL');
            }
          }
        };
        await Promise.all(Array.from({ length: 32 }, publisher));
      } finally {
        await transport.close();
      }
      expect(killedAt, 'worker a was killed while events were still being published').toBeGreaterThan(0);
      expect(killedAt).toBeLessThan(EVENTS);

      const all = () => [...handled('a'), ...handled('b')];
      await eventually(async () => (new Set(all()).size >= EVENTS ? true : undefined), 60_000, 200);
      const lines = all();
      const unique = new Set(lines);
      expect(unique).toEqual(new Set(ids)); // none lost, nothing made up
      const duplicates = lines.length - unique.size;
      // Only deliveries worker a handled but had not acked when it died run twice.
      expect(duplicates).toBeLessThanOrEqual(CONCURRENCY);
      console.log(
        `chaos: ${EVENTS} events, a handled ${handled('a').length} before SIGKILL at publish #${killedAt}, b ${handled('b').length}, duplicates ${duplicates}`,
      );
    }, 120_000);
  },
);
