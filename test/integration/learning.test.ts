// The arena learning claim, as a test: through the shadow path (register →
// candidate in shadow → gated promotion), the learned policy reaches
// survival > 0.9 with violations < 0.01 where the rules policy does not.
import { describe, it, expect } from 'vitest';
import { learningExperiment } from '../../src/sim/experiment.js';

describe('learning in the arena', () => {
  it('the promoted model beats the daily-checklist bars that the rules policy misses', { timeout: 120_000 }, async () => {
    const r = await learningExperiment({ seed: 1, agents: 256, trainCycles: 24_000, evalEvery: 8000, evalSteps: 4000, architecture: 'mlp', hidden: 32, maxCanaryCycles: 60_000,
      // 2 s per batch, not 25 ms: a stall of the shared test machine is not what this test measures (see test/helpers/server.ts).
      engine: { batch_timeout_ms: 2000 } });
    expect(r.rules.survival > 0.9 && r.rules.violations < 0.01).toBe(false);
    expect(r.promotion.status).toBe('OK'); // through the gate (its canary's evidence), not forced
    expect(r.promotion.canary_cycles).toBeGreaterThan(0);
    expect(r.promoted.survival).toBeGreaterThan(0.9);
    expect(r.promoted.violations).toBeLessThan(0.01);
  });
});
