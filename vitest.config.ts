import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['__test__/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Child processes and servers on loopback: keep files in separate forks, two at a time.
    pool: 'forks',
    maxWorkers: 2,
    // Predictors' console output must reach process.stdout, where cog-node captures it per prediction.
    disableConsoleIntercept: true,
  },
});
