import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql ships both index.js and index.mjs; Node (and so yoga, Pothos) loads index.js. Make
    // the files vite transforms load the same copy, or GraphQLError instances stop matching.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // expect.poll waits for what eventually holds (a browser re-rendering, a job running), not for
    // a latency bound: those are explicit (`waitFor({ timeout: 1000 })`). Its default second
    // failed under a loaded CI machine.
    expect: { poll: { timeout: 5_000 } },
    // Each file gets its own database cloned from a migrated template, so files run in parallel.
    fileParallelism: true,
    reporters: ['default'],
  },
});
