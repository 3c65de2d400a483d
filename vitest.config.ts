import { defineConfig } from 'vitest/config';
// @ts-expect-error: plain JavaScript module without types
import { workerBinPath } from './scripts/lib/worker-cache.mjs';

const bin = (workerBinPath as () => string | null)();

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores: files run one at a time; media tests need the machine.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    env: bin ? { MEDIASOUP_WORKER_BIN: bin } : {},
  },
});
