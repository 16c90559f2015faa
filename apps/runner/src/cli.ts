#!/usr/bin/env node
// The `switchyard` executable. The V8 compile cache is switched on before anything else is loaded:
// the daemon's dependencies are parsed once and later starts read bytecode from the cache
// (NODE_COMPILE_CACHE sets the directory; the OS temp dir by default; silently off when unwritable).
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { main } = await import('./cli/program.js');
process.exitCode = await main();
