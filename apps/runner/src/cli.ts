#!/usr/bin/env node
// The `switchyard` executable. The V8 compile cache is switched on before anything else is loaded:
// the daemon's dependencies are parsed once and later starts read bytecode from the cache
// (NODE_COMPILE_CACHE sets the directory; the OS temp dir by default; silently off when unwritable).
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
// `pnpm switchyard …` from the repository root runs in the root; relative paths mean the caller's folder.
if (process.env.npm_lifecycle_event === 'switchyard' && process.env.INIT_CWD)
  process.chdir(process.env.INIT_CWD);
const { main } = await import('./cli/program.js');
process.exitCode = await main();
