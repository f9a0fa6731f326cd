// The gate under repeated asking, simulated over its pure function: two arms
// with known outcome rates, outcomes streaming in, PROMOTE_CANDIDATE asked
// every `askEvery` cycles. How often does a candidate that is worse than
// production by the margin (or, with zero margins, exactly as good) ever pass?
// The bounds are the real confidence sequences (confseq.ts) and the verdict
// the real evaluateGate; only the world is simulated. Deterministic by seed.
import { MeanCS } from '../engine/confseq.js';
import { evaluateGate, DEFAULT_GATE, type GateConfig, type GateFigures, type ArmBounds } from '../control/gate.js';
import { mix32, unit } from '../kernel/reference.js';

export interface ArmWorld {
  death: number;
  violation: number;
}

export interface GateSimOptions {
  seeds: number;
  /** Cycles per run (both arms). */
  horizon: number;
  askEvery: number;
  canaryRatio: number;
  incumbent: ArmWorld;
  candidate: ArmWorld;
  gate?: Partial<GateConfig>;
  /** Reward clip (rewards are in [-clip, clip]), as the engine's. */
  clip?: number;
}

export interface GateSimResult {
  options: GateSimOptions;
  /** Share of runs in which the gate passed at least once. */
  pass_rate: number;
  passes: number;
  runs: number;
  /** Cycles until the first pass, over the runs that passed (median, p90). */
  cycles_to_pass: { median: number | null; p90: number | null };
  /** The same asking against a fixed-sample 95% normal interval (no correction for asking often): what anytime validity buys. */
  naive_pass_rate: number;
}

/** The reward of a simulated outcome: the engine's default weights for survival, death and violation, plus noise. */
function rewardOf(dead: boolean, violation: boolean, noise: number): number {
  return (dead ? -5 : 0.05) + (violation ? -2 : 0) + noise;
}

class Arm {
  readonly death: MeanCS;
  readonly violation: MeanCS;
  readonly reward: MeanCS;
  // Plain sums for the naive interval.
  n = 0; sd = 0; sv = 0; sr = 0; sr2 = 0;
  constructor(alpha: number, clip: number) {
    this.death = new MeanCS(alpha / 2, 0, 1);
    this.violation = new MeanCS(alpha / 2, 0, 1);
    this.reward = new MeanCS(alpha / 2, -clip, clip);
  }
  push(dead: boolean, violation: boolean, reward: number): void {
    this.death.push(dead ? 1 : 0); this.violation.push(violation ? 1 : 0); this.reward.push(reward);
    this.n++; this.sd += dead ? 1 : 0; this.sv += violation ? 1 : 0; this.sr += reward; this.sr2 += reward * reward;
  }
  bounds(): ArmBounds {
    return { outcomes: this.n, agents: 0, death: this.death.bound(), violation: this.violation.bound(), reward: this.reward.bound() };
  }
}

/** Non-inferiority with a fixed-sample one-sided 95% normal interval on each criterion: what a gate without anytime validity would do. */
function naivePass(c: Arm, i: Arm, g: GateConfig): boolean {
  if (c.n < 2 || i.n < 2) return false;
  const z = 1.645;
  const rate = (x: number, n: number) => x / n;
  const seRate = (p: number, n: number) => Math.sqrt(Math.max(p * (1 - p), 1e-12) / n);
  const pdC = rate(c.sd, c.n), pdI = rate(i.sd, i.n), pvC = rate(c.sv, c.n), pvI = rate(i.sv, i.n);
  const okDeath = pdI - pdC - z * Math.hypot(seRate(pdC, c.n), seRate(pdI, i.n)) > -g.margin_survival;
  const okViol = pvI - pvC - z * Math.hypot(seRate(pvC, c.n), seRate(pvI, i.n)) > -g.margin_violation;
  const mC = c.sr / c.n, mI = i.sr / i.n;
  const vC = Math.max(0, c.sr2 / c.n - mC * mC), vI = Math.max(0, i.sr2 / i.n - mI * mI);
  const okReward = mC - mI - z * Math.sqrt(vC / c.n + vI / i.n) > -g.margin_reward;
  return okDeath && okViol && okReward;
}

export function simulateGate(o: GateSimOptions): GateSimResult {
  const g: GateConfig = { ...DEFAULT_GATE, ...o.gate };
  const clip = o.clip ?? 10;
  let passes = 0, naivePasses = 0;
  const toPass: number[] = [];
  for (let seed = 0; seed < o.seeds; seed++) {
    let draw = 0;
    const rnd = () => unit(mix32(0x9a7e + seed, draw++, 41));
    const cand = new Arm(g.alpha, clip), inc = new Arm(g.alpha, clip);
    let passed = false, naive = false;
    for (let t = 1; t <= o.horizon && !(passed && naive); t++) {
      const canary = rnd() < o.canaryRatio;
      const w = canary ? o.candidate : o.incumbent;
      const dead = rnd() < w.death, viol = rnd() < w.violation;
      (canary ? cand : inc).push(dead, viol, rewardOf(dead, viol, rnd() - 0.5));
      if (t % o.askEvery !== 0) continue;
      if (!passed) {
        const f: GateFigures = {
          shadow_sample_size: t, candidate_non_finite: 0, candidate_violation_rate: 0, production_violation_rate: 0,
          canary_ratio: o.canaryRatio, canary: cand.bounds(), incumbent: inc.bounds(),
          off_policy: { samples: 0, ess: 0, estimate: null, lower: null },
        };
        if (evaluateGate(f, g).pass) { passed = true; toPass.push(t); }
      }
      if (!naive && naivePass(cand, inc, g)) naive = true;
    }
    if (passed) passes++;
    if (naive) naivePasses++;
  }
  toPass.sort((a, b) => a - b);
  const q = (p: number) => (toPass.length ? toPass[Math.min(toPass.length - 1, Math.floor(p * toPass.length))] : null);
  return {
    options: o, pass_rate: passes / o.seeds, passes, runs: o.seeds,
    cycles_to_pass: { median: q(0.5), p90: q(0.9) }, naive_pass_rate: naivePasses / o.seeds,
  };
}
