// The promotion gate and the watch as pure functions of their figures: each
// refusal, each kind of evidence, what is missing, and the false-pass rate
// under repeated asking (a simulation over the gate function).
import { describe, it, expect } from 'vitest';
import { evaluateGate, evaluateWatch, DEFAULT_GATE } from '../../../src/control/gate.js';
import { arm, baseFigures } from '../../helpers/arms.js';
import { simulateGate } from '../../../src/sim/gate-sim.js';
import { MeanCS } from '../../../src/engine/confseq.js';

const base = baseFigures;
const crit = (v: ReturnType<typeof evaluateGate>, name: string) => v.criteria.find((c) => c.name === name)!;

describe('promotion gate (pure)', () => {
  it('passes on on-policy evidence when every criterion is bounded within its margin, and says so', () => {
    const v = evaluateGate(base(), DEFAULT_GATE);
    expect(v).toMatchObject({ pass: true, evidence: 'on_policy', missing: null, alpha: 0.05 });
    for (const name of ['survival', 'violation_rate', 'reward']) {
      const c = crit(v, name);
      expect(c).toMatchObject({ evidence: 'on_policy', verdict: 'pass', samples: 3000 });
      expect(c.bound!).toBeGreaterThan(-c.margin);
      expect(c.estimate!).toBeGreaterThan(0);
    }
    expect(v.criteria.map((c) => c.name)).toEqual(['shadow_cycles', 'non_finite_outputs', 'proposed_violation_rate', 'survival', 'violation_rate', 'reward', 'reward_off_policy']);
  });

  it('refuses a non-finite output, whatever the rest says', () => {
    const v = evaluateGate(base({ candidate_non_finite: 2 }), DEFAULT_GATE);
    expect(v).toMatchObject({ pass: false, evidence: null });
    expect(crit(v, 'non_finite_outputs').verdict).toBe('fail');
    expect(v.reason).toMatch(/non-finite/);
  });

  it('refuses a proposed-violation rate above production\'s', () => {
    const v = evaluateGate(base({ candidate_violation_rate: 0.02, production_violation_rate: 0.01 }), DEFAULT_GATE);
    expect(v.pass).toBe(false);
    expect(crit(v, 'proposed_violation_rate').verdict).toBe('fail');
    expect(evaluateGate(base({ candidate_violation_rate: 0.02, production_violation_rate: 0.01 }), { ...DEFAULT_GATE, violation_tolerance: 0.02 }).pass).toBe(true);
  });

  it('refuses a canary arm credibly worse by more than the margin: deaths, violations or reward', () => {
    const dies = evaluateGate(base({ canary: arm(3000, 0.4, 0, 0.5) }), DEFAULT_GATE);
    expect(dies).toMatchObject({ pass: false, missing: null });
    expect(crit(dies, 'survival')).toMatchObject({ verdict: 'fail' });
    expect(crit(dies, 'survival').bound!).toBeLessThan(-DEFAULT_GATE.margin_survival);
    const violates = evaluateGate(base({ canary: arm(3000, 0.02, 0.3, 0.5) }), DEFAULT_GATE);
    expect(crit(violates, 'violation_rate').verdict).toBe('fail');
    expect(violates.pass).toBe(false);
    const poorer = evaluateGate(base({ canary: arm(3000, 0.02, 0, -3) }), DEFAULT_GATE);
    expect(crit(poorer, 'reward').verdict).toBe('fail');
    expect(poorer.pass).toBe(false);
  });

  it('a credibly worse canary refuses even when the off-policy screen would pass', () => {
    const v = evaluateGate(base({ canary: arm(3000, 0.4, 0, 0.5), off_policy: { samples: 50_000, ess: 20_000, estimate: 1, lower: 0.9 } }), DEFAULT_GATE);
    expect(v.pass).toBe(false);
    expect(crit(v, 'reward_off_policy').verdict).toBe('pass');
  });

  it('without a canary: refuses, and says to run one and about how much', () => {
    const v = evaluateGate(base({ canary_ratio: 0, canary: arm(0, 0, 0, 0) }), DEFAULT_GATE);
    expect(v).toMatchObject({ pass: false, evidence: null });
    expect(crit(v, 'survival')).toMatchObject({ verdict: 'insufficient', estimate: null, samples: 0 });
    expect(v.missing).toMatch(/no canary is running: set one \(SET_CANARY_RATIO/);
    // The base figures' off-policy bound (−3 at 4,000 shadow cycles) would still be far below −0.25 at the
    // 20,000 the floor needs: no shadow-cycle count is suggested, the canary is.
    expect(v.missing).toMatch(/off-policy evidence cannot carry this candidate: its lower bound -3\.\d+ \(effective sample size 200\) would still be below −0\.25 even at four times the shadow cycles the floor of 1000 needs; .*a canary is needed/);
    expect(v.missing).not.toMatch(/more shadow cycles/);
  });

  it('suggests more shadow cycles for off-policy evidence only when its bound, projected, would clear the margin', () => {
    const noCanary = { canary_ratio: 0, canary: arm(0, 0, 0, 0) };
    // A candidate that nearly always agrees with production: a narrow bound, only the effective sample size short.
    const close = evaluateGate(base({ ...noCanary, off_policy: { samples: 4000, ess: 500, estimate: 0.3, lower: 0.1 } }), DEFAULT_GATE);
    expect(close.pass).toBe(false);
    const m = /off-policy alone: effective sample size 500 < 1000 \(about (\d+) more shadow cycles at the current overlap/.exec(close.missing ?? '');
    expect(m, close.missing ?? '').not.toBeNull();
    expect(Number(m![1])).toBe(4000); // the floor's 8,000 samples: the bound clears by then
    expect(close.missing).not.toMatch(/cannot carry/);
    // The ESS is there, the bound is short but narrowing would clear it.
    const near = evaluateGate(base({ ...noCanary, off_policy: { samples: 4000, ess: 2000, estimate: 0.3, lower: -0.35 } }), DEFAULT_GATE);
    expect(near.missing).toMatch(/off-policy alone: lower bound -0\.\d+ does not clear −0\.25 yet \(about \d+ more shadow cycles/);
    // The README's run: the bound about 7 below the estimate after 21,822 shadow cycles, ESS 203.
    const far = evaluateGate(base({ ...noCanary, off_policy: { samples: 21_822, ess: 203, estimate: 0, lower: -7 } }), DEFAULT_GATE);
    expect(far.missing).toMatch(/off-policy evidence cannot carry this candidate: .*a canary is needed/);
    expect(far.missing).not.toMatch(/more shadow cycles/);
    // Enough ESS, a wide bound: four times the cycles would not do either.
    const wide = evaluateGate(base({ ...noCanary, off_policy: { samples: 50_000, ess: 5000, estimate: 0, lower: -2 } }), DEFAULT_GATE);
    expect(wide.missing).toMatch(/cannot carry this candidate: its lower bound -2\.\d+ \(effective sample size 5000\) would still be below −0\.25 even with four times the shadow cycles/);
  });

  it('a short canary: refuses as insufficient with an estimate of the canary outcomes still needed', () => {
    const v = evaluateGate(base({ canary: arm(60, 0.02, 0, 0.5) }), DEFAULT_GATE);
    expect(v.pass).toBe(false);
    const m = /about (\d+) more canary outcomes \(about (\d+) cycles at the current ratio 0.1\)/.exec(v.missing ?? '');
    expect(m, v.missing ?? '').not.toBeNull();
    expect(Number(m![2])).toBe(Math.ceil(Number(m![1]) / 0.1));
    // Following the advice gets there: with that many more outcomes it passes.
    const more = Number(m![1]);
    expect(evaluateGate(base({ canary: arm(60 + more * 2, 0.02, 0, 0.5) }), DEFAULT_GATE).pass).toBe(true);
  });

  it('the projected canary cycles are, at the median over 12 seeds, within 0.5× and 2× of what the real sequences need (a slightly better candidate)', () => {
    // Production dies in 10% and violates in 2% of outcomes, the candidate in 8% and 1.5%; canary 0.1. At
    // 10,000 cycles the refusal projects the cycles still needed; the run goes on, asking every 100 cycles,
    // until the gate passes. One run's ratio is noisy (the projection trusts the estimates of ~1,000 canary
    // outcomes; the pass comes when the running estimates happen to cross), so the median is checked. The
    // projection used to read 7–10× too much: a log(n) where the sequence has log log(n).
    const ratios: number[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      let st = seed * 7919;
      const rnd = () => { st = (st + 0x6d2b79f5) >>> 0; let t = Math.imul(st ^ (st >>> 15), 1 | st); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
      const mk = () => ({ d: new MeanCS(0.025), v: new MeanCS(0.025), r: new MeanCS(0.025, -10, 10), n: 0 });
      const c = mk(), i = mk();
      const bounds = (a: ReturnType<typeof mk>) => ({ outcomes: a.n, agents: Math.ceil(a.n / 50), death: a.d.bound(), violation: a.v.bound(), reward: a.r.bound() });
      const ask = (t: number) => evaluateGate({
        shadow_sample_size: t, candidate_non_finite: 0, candidate_violation_rate: 0, production_violation_rate: 0, canary_ratio: 0.1,
        canary: bounds(c), incumbent: bounds(i), off_policy: { samples: 0, ess: 0, estimate: null, lower: null },
      }, DEFAULT_GATE);
      let projected: number | null = null, passedAt: number | null = null;
      for (let t = 1; t <= 400_000 && passedAt === null; t++) {
        const inCanary = rnd() < 0.1;
        const dead = rnd() < (inCanary ? 0.08 : 0.1), viol = rnd() < (inCanary ? 0.015 : 0.02);
        const a = inCanary ? c : i;
        a.n++; a.d.push(dead ? 1 : 0); a.v.push(viol ? 1 : 0); a.r.push((dead ? -5 : 0.05) + (viol ? -2 : 0) + rnd() - 0.5);
        if (t % 100 === 0) {
          const v = ask(t);
          if (t === 10_000 && !v.pass) {
            const m = /about \d+ more canary outcomes \(about (\d+) cycles at the current ratio 0.1\)/.exec(v.missing ?? '');
            expect(m, v.missing ?? '').not.toBeNull();
            projected = Number(m![1]);
          }
          if (v.pass) passedAt = t;
        }
      }
      expect(passedAt, `seed ${seed}`).not.toBeNull();
      if (projected !== null) ratios.push(projected / (passedAt! - 10_000));
    }
    expect(ratios.length).toBeGreaterThanOrEqual(10); // only a run that passed before 10,000 cycles has no projection
    ratios.sort((x, y) => x - y);
    const median = (ratios[(ratios.length - 1) >> 1] + ratios[ratios.length >> 1]) / 2;
    expect(median, ratios.map((r) => r.toFixed(2)).join(' ')).toBeGreaterThan(0.5);
    expect(median, ratios.map((r) => r.toFixed(2)).join(' ')).toBeLessThan(2);
  });

  it('a canary just started: says to ask again after a few hundred outcomes rather than projecting from nothing', () => {
    const v = evaluateGate(base({ canary: arm(5, 0.02, 0, 0.5) }), DEFAULT_GATE);
    expect(v.pass).toBe(false);
    expect(v.missing).toMatch(/the canary has 5 outcome\(s\) so far: ask again after a few hundred \(about 3000 cycles at the current ratio 0.1\)/);
  });

  it('before the minimum shadow cycles: refuses and names the shortfall', () => {
    const v = evaluateGate(base({ shadow_sample_size: 400 }), DEFAULT_GATE);
    expect(v).toMatchObject({ pass: false, missing: '600 more shadow cycles (cycles must be flowing: the candidate is judged on live traffic)' });
    expect(crit(v, 'shadow_cycles')).toMatchObject({ verdict: 'insufficient', estimate: 400, margin: 1000 });
  });

  it('off-policy evidence alone passes only above the effective-sample-size floor, with a clearing lower bound, and can be switched off', () => {
    const figs = base({ canary_ratio: 0, canary: arm(0, 0, 0, 0), off_policy: { samples: 50_000, ess: 5000, estimate: 0.2, lower: 0.19 } });
    const v = evaluateGate(figs, DEFAULT_GATE);
    expect(v).toMatchObject({ pass: true, evidence: 'off_policy' });
    expect(v.reason).toMatch(/cannot see delayed harm/);
    expect(evaluateGate({ ...figs, off_policy: { ...figs.off_policy, ess: 999 } }, DEFAULT_GATE).pass).toBe(false);
    expect(evaluateGate({ ...figs, off_policy: { ...figs.off_policy, lower: -2 } }, DEFAULT_GATE).pass).toBe(false);
    expect(evaluateGate(figs, { ...DEFAULT_GATE, off_policy_may_pass: false }).pass).toBe(false);
  });
});

describe('post-promotion watch (pure)', () => {
  it('rolls back when the new production is credibly worse than the holdback arm, not when it is as good', () => {
    const worse = evaluateWatch(arm(3000, 0.37, 0, -1), arm(400, 0.03, 0, 0.3), DEFAULT_GATE);
    expect(worse.rollback).toBe(true);
    expect(worse.reason).toMatch(/credibly worse than the holdback arm/);
    expect(worse.criteria.find((c) => c.name === 'survival')!.verdict).toBe('fail');
    const same = evaluateWatch(arm(3000, 0.05, 0.01, 0.2), arm(400, 0.05, 0.01, 0.2), DEFAULT_GATE);
    expect(same.rollback).toBe(false);
    expect(evaluateWatch(arm(0, 0, 0, 0), arm(0, 0, 0, 0), DEFAULT_GATE).rollback).toBe(false);
  });
});

describe('false passes under repeated asking (simulation over the gate function, PROMOTE_CANDIDATE every 100 cycles)', () => {
  const prod = { death: 0.1, violation: 0.02 };
  // Smaller under `npm run mutate` (every gate mutant runs these): still a check that 0 or 1 false pass in 40 runs can fail.
  const mutate = process.env.MUTATE === '1';
  const common = { seeds: mutate ? 40 : 150, horizon: mutate ? 10_000 : 20_000, askEvery: 100, canaryRatio: 0.1, incumbent: prod };

  it('a regression of the margin\'s size on survival passes in at most alpha of the runs; a naive 95% interval passes far more often', () => {
    const r = simulateGate({ ...common, candidate: { death: 0.1 + DEFAULT_GATE.margin_survival, violation: 0.02 } });
    expect(r.pass_rate).toBeLessThanOrEqual(0.05);
    expect(r.naive_pass_rate).toBeGreaterThan(0.1); // the simulation can see the peeking problem
  });

  it('a regression of the margin\'s size on violations passes in at most alpha of the runs', () => {
    const r = simulateGate({ ...common, candidate: { death: 0.1, violation: 0.02 + DEFAULT_GATE.margin_violation } });
    expect(r.pass_rate).toBeLessThanOrEqual(0.05);
    expect(r.naive_pass_rate).toBeGreaterThan(0.1);
  });

  it('with zero margins, a candidate exactly as good as production passes in at most alpha of the runs', () => {
    const r = simulateGate({ ...common, candidate: prod, gate: { margin_survival: 0, margin_violation: 0, margin_reward: 0 } });
    expect(r.pass_rate).toBeLessThanOrEqual(0.05);
    expect(r.naive_pass_rate).toBeGreaterThan(0.05);
  });

  it('a truly better candidate passes in every run', () => {
    const r = simulateGate({ ...common, seeds: mutate ? 10 : 40, candidate: { death: 0.05, violation: 0 } });
    expect(r.pass_rate).toBe(1);
    expect(r.cycles_to_pass.median).toBeLessThan(10_000);
  });
});

describe('gate boundaries (exactly at the margins and floors)', () => {
  const B = (n: number, mean: number, lower: number, upper: number) => ({ n, mean, lower, upper, variance: 0.01, span: 1 });
  const arms = (c: { d: [number, number, number]; r: [number, number, number] }, i: { d: [number, number, number]; r: [number, number, number] }, n = 500) => ({
    canary: { outcomes: n, agents: 10, death: B(n, ...c.d), violation: B(n, 0, 0, 0.001), reward: B(n, ...c.r) },
    incumbent: { outcomes: 5000, agents: 90, death: B(5000, ...i.d), violation: B(5000, 0, 0, 0.001), reward: B(5000, ...i.r) },
  });
  const crit = (v: ReturnType<typeof evaluateGate>, name: string) => v.criteria.find((c) => c.name === name)!;

  it('exactly min_shadow_cycles passes the screen; one fewer does not', () => {
    expect(crit(evaluateGate(base({ shadow_sample_size: 1000 }), DEFAULT_GATE), 'shadow_cycles').verdict).toBe('pass');
    expect(evaluateGate(base({ shadow_sample_size: 1000 }), DEFAULT_GATE).pass).toBe(true);
    expect(crit(evaluateGate(base({ shadow_sample_size: 999 }), DEFAULT_GATE), 'shadow_cycles').verdict).toBe('insufficient');
  });

  it('a lower bound exactly at −margin does not pass; an upper bound exactly at −margin does not fail', () => {
    // reward advantage lower bound = 0 − 0.25 = −0.25 (the margin), upper = 0.5 − 0 = 0.5
    const f = base(arms({ d: [0.05, 0.04, 0.06], r: [0.2, 0, 0.5] }, { d: [0.1, 0.09, 0.11], r: [0.1, 0, 0.25] }));
    const r = crit(evaluateGate(f, DEFAULT_GATE), 'reward');
    expect(r).toMatchObject({ verdict: 'insufficient', bound: -0.25 });
    expect(r.estimate).toBeCloseTo(0.1, 10); // candidate mean − incumbent mean
    // upper bound of the advantage = 0 − 0.25 = −0.25 exactly: not credibly worse by more than the margin
    const g = base(arms({ d: [0.05, 0.04, 0.06], r: [-0.5, -1, 0] }, { d: [0.1, 0.09, 0.11], r: [0.5, 0.25, 0.75] }));
    expect(crit(evaluateGate(g, DEFAULT_GATE), 'reward').verdict).toBe('insufficient');
  });

  it('off-policy: an effective sample size exactly at the floor may pass; a lower bound exactly at −margin may not; the estimate is the difference of means', () => {
    const inc = arm(27000, 0.1, 0.05, 0);
    const f = (ess: number, lower: number) => base({ canary_ratio: 0, canary: arm(0, 0, 0, 0), incumbent: inc, off_policy: { samples: 50_000, ess, estimate: 0.3, lower } });
    const upper = inc.reward.upper;
    expect(crit(evaluateGate(f(1000, upper), DEFAULT_GATE), 'reward_off_policy').verdict).toBe('pass');
    expect(crit(evaluateGate(f(999.9, upper), DEFAULT_GATE), 'reward_off_policy').verdict).toBe('insufficient');
    expect(crit(evaluateGate(f(5000, upper - 0.25), DEFAULT_GATE), 'reward_off_policy').verdict).toBe('insufficient');
    expect(crit(evaluateGate(f(5000, upper), DEFAULT_GATE), 'reward_off_policy').estimate).toBeCloseTo(0.3 - inc.reward.mean!, 5);
  });

  it('off-policy estimate, golden: the candidate\'s advantage, negative when its estimated reward is below the incumbent\'s', () => {
    // Incumbent reward mean 0.5 (alternating 0.2 / 0.8), candidate's off-policy
    // estimate 0.3: the advantage reads −0.2 (an incumbent mean of 0, as above,
    // could not tell candidate − incumbent from candidate + incumbent).
    const inc = arm(2000, 0.1, 0.05, 0.5);
    expect(inc.reward.mean).toBeCloseTo(0.5, 10);
    const v = evaluateGate(base({ canary_ratio: 0, canary: arm(0, 0, 0, 0), incumbent: inc, off_policy: { samples: 50_000, ess: 5000, estimate: 0.3, lower: 0.25 } }), DEFAULT_GATE);
    const c = crit(v, 'reward_off_policy');
    expect(c.estimate).toBe(-0.2);
    expect(c.bound).toBeCloseTo(0.25 - inc.reward.upper!, 4);
    expect(c.bound!).toBeLessThan(0);
  });

  it('a canary with exactly 30 outcomes is projected from, with 29 it is not', () => {
    expect(evaluateGate(base({ canary: arm(30, 0.02, 0, 0.5) }), DEFAULT_GATE).missing).toMatch(/more canary outcomes|unlikely/);
    expect(evaluateGate(base({ canary: arm(29, 0.02, 0, 0.5) }), DEFAULT_GATE).missing).toMatch(/the canary has 29 outcome\(s\) so far/);
  });
});
