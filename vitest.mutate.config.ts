// The test files `npm run mutate` (StrykerJS) runs against each mutant: the
// unit tests of the mutated modules only (src/control/{lifecycle,gate,confirm},
// src/audit/chain, src/engine/{safety,experience}). In-process, no sockets,
// no child processes and no dist/ (a mutant lives in src/ of Stryker's sandbox).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/unit/control/*.test.ts',
      'test/unit/audit/*.test.ts',
      'test/unit/engine/safety.test.ts',
      'test/unit/engine/experience.test.ts',
    ],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
