// The promotion gate against the arena, through a real sidecar: planted
// regressions (learning rate 0, registered with weights) are refused however
// often PROMOTE_CANDIDATE is asked; a learned, better candidate is promoted
// through its canary; a forced regression is rolled back by the watch.
import { describe, it, expect } from 'vitest';
import { plantedRegression, goodCandidate, watchRollback, STALKER_WORLD, STALKER_RULES } from '../../src/sim/gate-experiment.js';

const common = { seed: 3, agents: 400, shadowCycles: 3000, canaryCycles: 20_000, askEvery: 1000, canaryRatio: 0.1 };

describe('planted regressions are refused, asked after every 1000 cycles', () => {
  it('delayed harm: a candidate that always holds still while a stalker closes in', async () => {
    const r = await plantedRegression({ ...common, world: STALKER_WORLD, rules: STALKER_RULES, name: 'hold', intent: 'HOLD', harm: 'delayed' });
    expect(r.survival_plant).toBeLessThan(r.survival_production - 0.1); // it is a real regression
    expect(r.asked).toBeGreaterThan(10);
    expect(r.passed).toBe(false);
    // Its one-step (off-policy) estimate cannot see the harm; the canary arm
    // can: worse than the margin by its estimate, and either credibly so
    // ('fail') or aborted by the canary's automatic abort first.
    const off = r.final.criteria.find((c) => c.name === 'reward_off_policy')!;
    expect(off.verdict).not.toBe('fail');
    const survival = r.final.criteria.find((c) => c.name === 'survival')!;
    expect(survival.estimate!).toBeLessThan(-0.02);
    expect(survival.verdict).not.toBe('pass');
    expect(r.canary_aborted || survival.verdict === 'fail', JSON.stringify(survival)).toBe(true);
  });

  it('immediate harm: a candidate that always attacks, whatever is in front of it', async () => {
    const r = await plantedRegression({ ...common, world: {}, name: 'attack', intent: 'PRIMARY_ATTACK', harm: 'immediate' });
    expect(r.survival_plant).toBeLessThan(r.survival_production);
    expect(r.asked).toBeGreaterThan(10);
    expect(r.passed).toBe(false);
    expect(r.final.criteria.filter((c) => c.evidence === 'on_policy').some((c) => c.verdict !== 'pass')).toBe(true);
  });
});

describe('a better candidate reaches production through the canary', () => {
  it('learned in shadow, then promoted on on-policy evidence once the canary has enough', async () => {
    const r = await goodCandidate({ seed: 5, agents: 400, shadowCycles: 20_000, canaryRatio: 0.1, askEvery: 1000, maxCanaryCycles: 40_000 });
    expect(r.passed).toBe(true);
    expect(r.evidence).toBe('on_policy');
    expect(r.canary_cycles_to_pass).not.toBeNull();
    expect(r.survival_after).toBeGreaterThan(r.survival_before);
  });
});

describe('the watch after promotion', () => {
  it('rolls a forced regression back automatically, as the system operator, with an AUTO_ROLLBACK incident', async () => {
    const r = await watchRollback({ seed: 4, agents: 400, intent: 'HOLD', world: STALKER_WORLD, rules: STALKER_RULES, maxCycles: 20_000 });
    expect(r).toMatchObject({ rolled_back: true, active_after: null, incident: { type: 'AUTO_ROLLBACK', operator: 'system' } });
    expect(r.cycles_to_rollback!).toBeLessThan(20_000);
  });
});
