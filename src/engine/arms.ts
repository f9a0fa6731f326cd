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

export class Arms {
  /** Grows at every reset: an agent counted in an arm under an older epoch is counted again. */
  epoch = 0;
  private windows: Window[] = [];
  private evidence: Evidence[] = [];
  /**
   * Cycles since the last reset, all arms, whose decision its arm's own
   * policy made (evidence about that arm): the watch's clock. A lockdown,
   * SAFE_MODE or a failure's STOP serves every arm alike and does not count,
   * so it cannot use up a watch without evidence.
   */
  cycles = 0;

  constructor(private readonly window: number, private readonly alpha: number, private readonly rewardClip: number) {
    this.reset();
  }

  /** New arms (a candidate was set, a watch started): counts and evidence start over. */
  reset(): void {
    this.epoch++;
    this.cached = null;
    this.cycles = 0;
    this.windows = ARM_NAMES.map(() => new Window(this.window));
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

  /** The outcome of a decision served in `arm` (the arm logged with the decision, so a later change of arm does not move it). */
  outcome(arm: number, alive: boolean, violation: boolean, reward: number | null): void {
    this.windows[arm].outcome(alive, violation, reward);
    const e = this.evidence[arm];
    e.death.push(alive ? 0 : 1);
    e.violation.push(violation ? 1 : 0);
    if (reward !== null) e.reward.push(reward);
  }

  /** The window's death and violation counts of an arm (the canary's automatic abort). */
  rates(arm: number): { n: number; deaths: number; violations: number } {
    const w = this.windows[arm];
    return { n: Math.min(w.n, w.size), deaths: w.deaths, violations: w.violations };
  }

  bounds(arm: number): ArmBounds {
    const e = this.evidence[arm];
    return { outcomes: e.death.n, agents: this.windows[arm].agents, death: e.death.bound(), violation: e.violation.bound(), reward: e.reward.bound() };
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
