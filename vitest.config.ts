import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// CI asks for a machine-readable report too (.ci/run sums it with cargo's counts).
const report = process.env.COG_NODE_TEST_REPORT;
// The libtorch tests (and safetensors', whose fixtures Python torch writes) need libtorch: they
// run through `npm run test:torch` (scripts/ci-torch.sh), which installs it and sets this.
const torch = process.env.COG_NODE_TORCH === '1';

export default defineConfig({
  resolve: {
    // Fixture predictors import 'cog-node'; under vitest they must get the same (source) modules
    // as the test, or scopes and classes would be duplicated.
    alias: [
      { find: /^cog-node$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^cog-node\/torch$/, replacement: fileURLToPath(new URL('./src/torch/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: torch ? ['__test__/torch-*.test.ts', '__test__/safetensors.test.ts'] : ['__test__/**/*.test.ts'],
    exclude: torch ? ['**/node_modules/**'] : ['**/node_modules/**', '__test__/torch-*.test.ts', '__test__/safetensors.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Child processes and servers on loopback: keep files in separate forks, two at a time.
    pool: 'forks',
    maxWorkers: 2,
    // Predictors' console output must reach process.stdout, where cog-node captures it per prediction.
    disableConsoleIntercept: true,
    reporters: report ? ['default', 'json'] : ['default'],
    outputFile: report ? { json: report } : undefined,
  },
});
