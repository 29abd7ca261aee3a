import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites start real Redis servers and containers; keep parallelism
    // modest so a 2-core CI machine is not starved.
    maxWorkers: 2,
  },
});
