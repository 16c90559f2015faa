import { defineConfig } from 'vitest/config';
import { vitestConfig } from '../../vitest.base.ts';

export default defineConfig(vitestConfig());
