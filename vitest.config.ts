import { fileURLToPath } from 'node:url';

import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: [
      {
        // Tests import the compiled package, as users install it, so the worker
        // entry points they start are the ones under dist/workers/.
        find: /^tickbus$/,
        replacement: fileURLToPath(new URL('./dist/src/index.js', import.meta.url)),
      },
    ],
  },
  test: {
    exclude: [...configDefaults.exclude, 'dist/**'],
    globalSetup: ['tests/global-setup.ts'],
    // Integration tests wait for consumer group joins and broker round trips.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 60_000,
  },
});
