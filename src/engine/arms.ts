// Arms: which policy serves an agent, decided per agent (sticky), and what
// each arm's agents lived through.
//
// An agent's arm comes from a number u in [0, 1) drawn from its id and a salt
// (fixed when the candidate is set, or when a watch starts): u < ratio is in
// the canary (or holdback) arm. Raising the ratio only adds agents — those
// already in keep their u — and a replay draws the same arms. Since all of an
// agent's cycles are served by one policy, a death a few ticks after a canary
// decision lands in the canary arm, not in whichever arm served the last cycle.
//
// Per arm: a sliding window of the last outcomes (for HEARTBEAT and the
// canary's automatic abort) and cumulative confidence sequences since the
// arms were reset (the gate's and the watch's evidence).
//
// Agents are the unit the arms are drawn by, and agents differ: a bot on a
// hard map dies more whatever its policy. The confidence sequences treat an
// arm's outcomes as one stream; a canary arm of a few agents who happen to be
// safer by themselves would make a worse candidate look fine (simulated in
// src/sim/gate-sim-agents.ts: 25.8% false passes at the survival margin
// with 30 agents, 10% canary, agents' death rates ±0.1 apart). So each
// arm's bounds are widened by its design effect — the variance of its mean
// with outcomes clustered by agent (the cluster-robust sandwich, CR1) over
// the variance as if independent — and by the ratio of Student's t with
// (agents − 1) degrees of freedom to the normal quantile, for how few agents
// that estimate rests on. With agents that do not differ, the factor is about
// 1; with one agent in an arm it is infinite (no evidence).
import { mix32, unit } from '../kernel/reference.js';
import { MeanCS, type Bound } from './confseq.js';

export const ARM_INCUMBENT = 0;
export const ARM_CANARY = 1;
export const ARM_HOLDBACK = 2;
/** A decision that is not its arm's policy's: its outcome is evidence about no arm. */
export const NO_ARM = -1;
export const ARM_NAMES = ['incumbent', 'canary', 'holdback'] as const;
export type ArmName = (typeof ARM_NAMES)[number];

/** RNG stream of the arm draw (the kernel's exploration uses streams 0 and 1). */
const ARM_STREAM = 11;

/** The agent's position in [0, 1) of the arm draw under `salt`. */
export function agentUnit(salt: number, agentId: string): number {
  let h = 2166136261;
  for (let i = 0; i < agentId.length; i++) h = Math.imul(h ^ agentId.charCodeAt(i), 16777619) >>> 0;
  return unit(mix32(salt >>> 0, h, ARM_STREAM));
}

class Window {
  readonly alive: Uint8Array;
  readonly viol: Uint8Array;
  readonly reward: Float64Array;
  readonly hasReward: Uint8Array;
  readonly lat: Float64Array;
  n = 0;
  deaths = 0;
  violations = 0;
  rewardSum = 0;
  rewardN = 0;
  cycles = 0;
  agents = 0;
  constructor(readonly size: number) {
    this.alive = new Uint8Array(size);
    this.viol = new Uint8Array(size);
    this.reward = new Float64Array(size);
    this.hasReward = new Uint8Array(size);
    this.lat = new Float64Array(size);
  }
  outcome(alive: boolean, violation: boolean, reward: number | null): void {
    const i = this.n % this.size;
    if (this.n >= this.size) {
      this.deaths -= 1 - this.alive[i];
      this.violations -= this.viol[i];
      if (this.hasReward[i]) { this.rewardSum -= this.reward[i]; this.rewardN--; }
    }
    this.alive[i] = alive ? 1 : 0;
    this.viol[i] = violation ? 1 : 0;
    this.hasReward[i] = reward === null ? 0 : 1;
    this.reward[i] = reward ?? 0;
    if (!alive) this.deaths++;
    if (violation) this.violations++;
    if (reward !== null) { this.rewardSum += reward; this.rewardN++; }
    this.n++;
  }
  served(latencyUs: number): void {
    this.lat[this.cycles % this.size] = latencyUs;
    this.cycles++;
  }
}

/** Evidence of one arm: bounds on its death rate, violation rate and mean reward (each side at alpha/2). */
export interface ArmBounds {
  outcomes: number;
  agents: number;
  death: Bound;
  violation: Bound;
  reward: Bound;
}

export interface ArmSnapshot {
  agents: number;
  cycles: number;
  /** Outcomes in the window (the last `window` of this arm). */
  outcomes: number;
  deaths: number;
  violations: number;
  survival_rate: number | null;
  violation_rate: number | null;
  reward_mean: number | null;
  latency_us: { p50: number; p99: number; max: number } | null;
}

interface Evidence { death: MeanCS; violation: MeanCS; reward: MeanCS }

/** One agent's outcomes in one arm under the current arms: counts, sums and sums of squares per criterion. */
class AgentTally {
  n = 0; deaths = 0; violations = 0;
  rn = 0; r = 0; r2 = 0;
}

/** An agent's tallies per arm under the arms epoch `epoch` (kept on the agent's stream: no lookup per outcome). */
export interface AgentTallies { epoch: number; byArm: Array<AgentTally | undefined> }

/**
 * How much wider an arm's bound must be when its outcomes come clustered by
 * agent: sqrt(design effect) × t_{k−1}/z at the bounds' level, for k agents
 * with per-agent counts `n`, sums `s` and sums of squares `q`. 1 when the
 * agents do not differ beyond chance and are many; Infinity for k < 2.
 */
export function clusterFactor(n: ArrayLike<number>, s: ArrayLike<number>, q: ArrayLike<number>, alpha: number): number {
  const k = n.length;
  if (k < 2) return Infinity;
  let N = 0, S = 0, Q = 0;
  for (let j = 0; j < k; j++) { N += n[j]; S += s[j]; Q += q[j]; }
  if (N === 0) return Infinity;
  const m = S / N;
  const within = Q - (S * S) / N; // Σ (x − m)²: the variance of the mean as if independent, times N²
  let between = 0;
  for (let j = 0; j < k; j++) { const e = s[j] - m * n[j]; between += e * e; }
  between *= k / (k - 1); // CR1 small-sample correction
  const deff = within > 1e-12 ? Math.max(1, between / within) : 1;
  const z = normalQuantile(1 - alpha / 2);
  return Math.sqrt(deff) * (studentQuantile(1 - alpha / 2, k - 1) / z);
}

/** The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) { const x = Math.sqrt(-2 * Math.log(p)); return (((((c[0] * x + c[1]) * x + c[2]) * x + c[3]) * x + c[4]) * x + c[5]) / ((((d[0] * x + d[1]) * x + d[2]) * x + d[3]) * x + 1); }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const x = p - 0.5, r = x * x;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * x / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** Student's t quantile: exact for 1 and 2 degrees of freedom, a Cornish–Fisher expansion (3 terms) above. */
export function studentQuantile(p: number, df: number): number {
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  const z = normalQuantile(p), z2 = z * z;
  return z + (z * (z2 + 1)) / (4 * df) + (z * ((5 * z2 + 16) * z2 + 3)) / (96 * df * df) + (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / (384 * df * df * df);
}

/** clusterFactor over the agents with at least one reward outcome (the others tell nothing about reward). */
function rewardFactor(rn: Float64Array, r: Float64Array, r2: Float64Array, alpha: number): number {
  const keep: number[] = [];
  for (let j = 0; j < rn.length; j++) if (rn[j] > 0) keep.push(j);
  if (keep.length === rn.length) return clusterFactor(rn, r, r2, alpha);
  return clusterFactor(keep.map((j) => rn[j]), keep.map((j) => r[j]), keep.map((j) => r2[j]), alpha);
}

/**
 * `b` widened by `f` about its mean (clamped to the observations' range), with
 * `inflation: f`, so a projection of the evidence still needed (gate.ts)
 * widens its projected half-widths the same way.
 */
function widen(b: Bound, f: number, lo: number, hi: number): Bound {
  if (f <= 1 || b.mean === null) return b;
  if (!Number.isFinite(f)) return { ...b, lower: lo, upper: hi, inflation: Infinity };
  return { ...b, lower: Math.max(lo, b.mean - (b.mean - b.lower) * f), upper: Math.min(hi, b.mean + (b.upper - b.mean) * f), inflation: f };
}

export class Arms {
  /** Grows at every reset: an agent counted in an arm under an older epoch is counted again. */
  epoch = 0;
  private windows: Window[] = [];
  private evidence: Evidence[] = [];
  private tallies: AgentTally[][] = [];
  /**
   * Cycles since the last reset, all arms, whose decision its arm's own
   * policy made (evidence about that arm): the watch's clock. A lockdown,
   * SAFE_MODE or a failure's STOP serves every arm alike and does not count,
   * so it cannot use up a watch without evidence.
   */
  cycles = 0;

  /** `clustered: false` leaves the bounds as if outcomes were independent: only for showing what the widening buys (src/sim/gate-sim-agents.ts). */
  constructor(private readonly window: number, private readonly alpha: number, private readonly rewardClip: number, private readonly clustered = true) {
    this.reset();
  }

  /** New arms (a candidate was set, a watch started): counts and evidence start over. */
  reset(): void {
    this.epoch++;
    this.cached = null;
    this.cycles = 0;
    this.windows = ARM_NAMES.map(() => new Window(this.window));
    this.tallies = ARM_NAMES.map(() => []);
    // Each side of each arm's sequence at alpha/2: the bound on a difference
    // of two arms then holds with probability 1 − alpha (union bound).
    this.evidence = ARM_NAMES.map(() => ({
      death: new MeanCS(this.alpha / 2, 0, 1), violation: new MeanCS(this.alpha / 2, 0, 1), reward: new MeanCS(this.alpha / 2, -this.rewardClip, this.rewardClip),
    }));
  }

  /**
   * A cycle served in `arm`; `newAgent` when the agent was not yet counted in
   * this arm under this epoch; `evidential` when the arm's own policy decided.
   */
  served(arm: number, latencyUs: number, newAgent: boolean, evidential: boolean): void {
    const w = this.windows[arm];
    w.served(latencyUs);
    if (newAgent) w.agents++;
    if (evidential) this.cycles++;
  }

  /**
   * The outcome of an agent's decision served in `arm` (the arm logged with
   * the decision, so a later change of arm does not move it); `agent` holds
   * that agent's tallies (its stream).
   */
  outcome(arm: number, alive: boolean, violation: boolean, reward: number | null, agent: { tallies: AgentTallies | null }): void {
    this.windows[arm].outcome(alive, violation, reward);
    const e = this.evidence[arm];
    e.death.push(alive ? 0 : 1);
    e.violation.push(violation ? 1 : 0);
    if (reward !== null) e.reward.push(reward);
    let at = agent.tallies;
    if (at === null || at.epoch !== this.epoch) { at = { epoch: this.epoch, byArm: [] }; agent.tallies = at; }
    let t = at.byArm[arm];
    if (t === undefined) { t = new AgentTally(); at.byArm[arm] = t; this.tallies[arm].push(t); }
    t.n++;
    if (!alive) t.deaths++;
    if (violation) t.violations++;
    if (reward !== null) { t.rn++; t.r += reward; t.r2 += reward * reward; }
  }

  /** The window's death and violation counts of an arm (the canary's automatic abort). */
  rates(arm: number): { n: number; deaths: number; violations: number } {
    const w = this.windows[arm];
    return { n: Math.min(w.n, w.size), deaths: w.deaths, violations: w.violations };
  }

  /** The arm's evidence: its confidence sequences' bounds, widened for outcomes clustered by agent (see the top of this file). */
  bounds(arm: number): ArmBounds {
    const e = this.evidence[arm];
    if (!this.clustered) return { outcomes: e.death.n, agents: this.windows[arm].agents, death: e.death.bound(), violation: e.violation.bound(), reward: e.reward.bound() };
    const ts = this.tallies[arm];
    const k = ts.length;
    const n = new Float64Array(k), d = new Float64Array(k), v = new Float64Array(k), rn = new Float64Array(k), r = new Float64Array(k), r2 = new Float64Array(k);
    ts.forEach((t, j) => { n[j] = t.n; d[j] = t.deaths; v[j] = t.violations; rn[j] = t.rn; r[j] = t.r; r2[j] = t.r2; });
    const a = this.alpha / 2;
    const clip = this.rewardClip;
    return {
      outcomes: e.death.n, agents: this.windows[arm].agents,
      death: widen(e.death.bound(), clusterFactor(n, d, d, a), 0, 1),
      violation: widen(e.violation.bound(), clusterFactor(n, v, v, a), 0, 1),
      reward: widen(e.reward.bound(), rewardFactor(rn, r, r2, a), -clip, clip),
    };
  }

  private cached: { at: number; snap: Record<ArmName, ArmSnapshot> } | null = null;

  /**
   * The snapshot as of at most `maxAgeMs` ago: a snapshot sorts each arm's
   * latency window, and a dashboard polling HEARTBEAT (or /metrics) often
   * would pay that on the cycle path's thread each time (as Monitor does).
   */
  snapshotCached(maxAgeMs = 100): Record<ArmName, ArmSnapshot> {
    const now = performance.now();
    if (!this.cached || now - this.cached.at > maxAgeMs) this.cached = { at: now, snap: this.snapshot() };
    return this.cached.snap;
  }

  snapshot(): Record<ArmName, ArmSnapshot> {
    const out = {} as Record<ArmName, ArmSnapshot>;
    ARM_NAMES.forEach((name, i) => {
      const w = this.windows[i];
      const n = Math.min(w.n, w.size);
      const m = Math.min(w.cycles, w.size);
      let latency: ArmSnapshot['latency_us'] = null;
      if (m > 0) {
        const l = Array.from(w.lat.subarray(0, m)).sort((a, b) => a - b);
        latency = { p50: l[Math.floor(0.5 * (m - 1))], p99: l[Math.floor(0.99 * (m - 1))], max: l[m - 1] };
      }
      out[name] = {
        agents: w.agents, cycles: w.cycles, outcomes: n, deaths: w.deaths, violations: w.violations,
        survival_rate: n > 0 ? 1 - w.deaths / n : null, violation_rate: n > 0 ? w.violations / n : null,
        reward_mean: w.rewardN > 0 ? w.rewardSum / w.rewardN : null, latency_us: latency,
      };
    });
    return out;
  }
}
