import { defineConfig } from 'vitest/config';

// Suites built on test/helpers/sidecar.ts run the kernel on the main thread by
// default (SP_TEST_POOL_THREADS unset). The `threads` project runs the control
// and failure suites again with one kernel worker thread (shared memory, the
// doorbell, a worker holding a batch), so `npm test` exercises both variants
// (issue 13). `npx vitest run FILE` runs FILE in every project that includes it;
// `--project main` or `--project threads` picks one.
const THREADED = ['test/integration/control.test.ts', 'test/integration/failures.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'threads', include: THREADED, env: { SP_TEST_POOL_THREADS: '1' } } },
    ],
  },
});
