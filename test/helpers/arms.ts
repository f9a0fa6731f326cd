// Gate figures built from real confidence sequences, for the gate's tests.
import { MeanCS } from '../../src/engine/confseq.js';
import type { ArmBounds, GateFigures } from '../../src/control/gate.js';

/** An arm whose bounds come from real sequences fed `n` outcomes at the given rates (deterministic pattern). */
export function arm(n: number, death: number, violation: number, reward: number): ArmBounds {
  const d = new MeanCS(0.025), v = new MeanCS(0.025), r = new MeanCS(0.025, -10, 10);
  let accD = 0, accV = 0;
  for (let i = 0; i < n; i++) {
    accD += death; accV += violation;
    const dead = accD >= 1, viol = accV >= 1;
    if (dead) accD -= 1;
    if (viol) accV -= 1;
    d.push(dead ? 1 : 0); v.push(viol ? 1 : 0); r.push(reward + (i % 2 ? 0.3 : -0.3));
  }
  return { outcomes: n, agents: Math.ceil(n / 50), death: d.bound(), violation: v.bound(), reward: r.bound() };
}

/** Figures of a candidate clearly better than production, with `over` replacing any part. */
export const baseFigures = (over: Partial<GateFigures> = {}): GateFigures => ({
  shadow_sample_size: 5000, candidate_non_finite: 0, candidate_violation_rate: 0.001, production_violation_rate: 0.01, canary_ratio: 0.1,
  canary: arm(3000, 0.02, 0, 0.5), incumbent: arm(27000, 0.1, 0.05, 0), off_policy: { samples: 4000, ess: 200, estimate: 0.1, lower: -3 }, ...over,
});
