import { MemoryTransport } from '@switchyard/core';
import { transportConformance } from './conformance.js';

transportConformance('memory', async () => ({ transport: new MemoryTransport() }));
