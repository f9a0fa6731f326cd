// The promotion gate and the post-promotion watch, pure: figures in (bounds
// of anytime-valid confidence sequences, see confseq.ts), a verdict out.
//
// The burden of proof is on the candidate. It passes a criterion only when
// the evidence bounds its disadvantage against production below a margin:
// lower bound of (candidate − production) > −margin, for survival, violations
// and reward. Bounds are confidence sequences, valid at every time at once,
// so asking again and again does not raise the false-pass rate: for each
// criterion, a candidate worse than production by the margin or more passes
// it with probability at most α (default 5%), however often it is asked.
//
// Two kinds of evidence, named in every verdict:
// - on_policy: the canary arm (agents served by the candidate, sticky per
//   agent) against the incumbent arm (the other agents, served by
//   production or the rules). Deaths and violations that come ticks after a
//   decision land in the arm of the agent that suffered them. Primary.
// - off_policy: the shadow's importance-weighted estimate of the candidate's
//   one-step reward from the incumbent's logged decisions. It cannot see
//   harm that comes after the step (an agent that holds still while a threat
//   closes in looks fine for one step), so it alone passes a candidate only
//   with an effective sample size above a floor and a lower bound clearing
//   the margin; any on-policy criterion that fails still refuses.
// Screens that every promotion needs: enough shadow cycles, no non-finite
// output, and a proposed-violation rate not above production's.
import { approxHalfWidth, HalfWidthWalk, type Bound } from '../engine/confseq.js';
import type { ArmBounds } from '../engine/arms.js';

export type { ArmBounds };

export interface GateConfig {
  min_shadow_cycles: number;
  /** Error of each criterion: a regression of the margin's size passes it with probability at most alpha. */
  alpha: number;
  /** Non-inferiority margins: how much worse than production the candidate may be (absolute). */
  margin_survival: number;
  margin_violation: number;
  margin_reward: number;
  /** How much higher than the incumbent's the candidate's proposed-violation rate may be (0: not higher at all). */
  violation_tolerance: number;
  /** Off-policy evidence alone may pass only with at least this effective sample size. */
  off_policy_min_ess: number;
  /** false: only on-policy (canary) evidence can pass a candidate. */
  off_policy_may_pass: boolean;
}

export const DEFAULT_GATE: GateConfig = {
  min_shadow_cycles: 1000, alpha: 0.05, margin_survival: 0.02, margin_violation: 0.01, margin_reward: 0.25,
  violation_tolerance: 0, off_policy_min_ess: 1000, off_policy_may_pass: true,
};

export interface GateFigures {
  shadow_sample_size: number;
  candidate_non_finite: number;
  /** Proposed-violation rates over the last shadow window. */
  candidate_violation_rate: number | null;
  production_violation_rate: number | null;
  canary_ratio: number;
  canary: ArmBounds;
  incumbent: ArmBounds;
  off_policy: { samples: number; ess: number; estimate: number | null; lower: number | null };
}

export type Verdict = 'pass' | 'fail' | 'insufficient';
export type EvidenceKind = 'on_policy' | 'off_policy';

export interface Criterion {
  name: string;
  evidence: EvidenceKind;
  /** Point estimate of the candidate's advantage (positive: better than production). */
  estimate: number | null;
  /** The bound the verdict reads: lower bound of the advantage (upper for a 'fail'). */
  bound: number | null;
  margin: number;
  samples: number;
  verdict: Verdict;
  note?: string;
}

export interface GateVerdict {
  pass: boolean;
  /** The evidence that passed the candidate (null when refused). */
  evidence: EvidenceKind | null;
  criteria: Criterion[];
  /** One sentence: why it passed, or why not. */
  reason: string;
  /** What is missing and about how much more is needed (null when it passed or more evidence would not help). */
  missing: string | null;
  alpha: number;
}

// Six decimals: enough that a rounded bound never reads on the other side of its margin.
const r4 = (x: number | null) => (x === null || !Number.isFinite(x) ? x : Math.round(x * 1e6) / 1e6);

/** Candidate advantage on a rate where lower is better (deaths, violations): production's rate − candidate's. */
function rateCriterion(name: string, cand: Bound, inc: Bound, margin: number): Criterion {
  const samples = Math.min(cand.n, inc.n);
  if (cand.n === 0 || inc.n === 0 || cand.mean === null || inc.mean === null) {
    return { name, evidence: 'on_policy', estimate: null, bound: null, margin, samples, verdict: 'insufficient' };
  }
  return judge(name, inc.mean - cand.mean, inc.lower - cand.upper, inc.upper - cand.lower, margin, samples);
}

function judge(name: string, estimate: number, lower: number, upper: number, margin: number, samples: number): Criterion {
  const verdict: Verdict = lower > -margin ? 'pass' : upper < -margin ? 'fail' : 'insufficient';
  return { name, evidence: 'on_policy', estimate: r4(estimate), bound: r4(verdict === 'fail' ? upper : lower), margin, samples, verdict };
}

/**
 * About how many more canary outcomes make the criterion's bounds narrow
 * enough to pass, if the estimates hold; null when no amount would (the
 * candidate looks worse than the margin).
 */
function moreCanaryOutcomes(cand: Bound, inc: Bound, estimate: number, margin: number, ratio: number, alpha: number): number | null {
  const room = estimate + margin;
  if (!(room > 0)) return null;
  // The arms' bounds are widened for outcomes clustered by agent (arms.ts): so are the projections.
  const fc = cand.inflation ?? 1, fi = inc.inflation ?? 1;
  if (!Number.isFinite(fc) || !Number.isFinite(fi)) return null;
  const r = ratio > 0 ? ratio : 0.05;
  const varC = cand.n > 1 ? cand.variance : inc.variance;
  // Walk the canary's outcomes up in 2% steps (the incumbent's grow with them at the ratio) until the two
  // projected half-widths fit in the room: one pass over the sums, cheap enough for every HEARTBEAT.
  const wc = new HalfWidthWalk(varC, cand.span, alpha), wi = new HalfWidthWalk(inc.variance, inc.span, alpha);
  for (let nc = Math.max(1, cand.n); nc <= 1e9; nc = Math.max(nc + 1, Math.ceil(nc * 1.02))) {
    wc.advanceTo(nc);
    wi.advanceTo(inc.n + (Math.max(0, nc - cand.n) * (1 - r)) / r);
    if (wc.halfWidth * fc + wi.halfWidth * fi <= room) return Math.max(1, nc - cand.n);
  }
  return null;
}

/**
 * About how many more shadow cycles would let the off-policy lower bound
 * clear the margin, or null when it plausibly would not. The bound's
 * half-width (estimate − lower) is projected to shrink as a sequence's does
 * (approxHalfWidth), from the current samples to those the effective-sample-
 * size floor needs at the current overlap, searched up to 4× that. The bound
 * is over clipped importance-weighted rewards: unless the candidate nearly
 * always agrees with production it stays far below the margin (−6 to −7
 * against −0.25 after 20,000 shadow cycles), and telling the operator to wait
 * for ~100,000 more would send them waiting for nothing.
 */
function moreShadowCycles(op: GateFigures['off_policy'], incUpper: number, margin: number, minEss: number): number | null {
  if (op.estimate === null || op.lower === null || !(op.samples > 0)) return null;
  const half = Math.max(0, op.estimate - op.lower);
  const atFloor = op.ess >= minEss ? op.samples : Math.ceil((op.samples * minEss) / Math.max(op.ess, 1e-9));
  // How the half-width shrinks from samples to n; the variance of the weighted rewards is not in the figures, and the ratio hardly depends on it.
  const now = approxHalfWidth(0.25, 1, 0.025, op.samples);
  const clears = (n: number) => op.estimate! - (half * approxHalfWidth(0.25, 1, 0.025, n)) / now - incUpper > -margin;
  if (!clears(4 * atFloor)) return null;
  let lo = atFloor, hi = 4 * atFloor;
  if (clears(lo)) hi = lo;
  while (hi - lo > Math.max(1, hi * 0.02)) { const m = (lo + hi) / 2; if (clears(m)) hi = m; else lo = m; }
  return Math.max(1, Math.ceil(hi - op.samples));
}

export function evaluateGate(f: GateFigures, cfg: GateConfig): GateVerdict {
  const a = cfg.alpha;
  const screens: Criterion[] = [
    {
      name: 'shadow_cycles', evidence: 'off_policy', estimate: f.shadow_sample_size, bound: null, margin: cfg.min_shadow_cycles, samples: f.shadow_sample_size,
      verdict: f.shadow_sample_size >= cfg.min_shadow_cycles ? 'pass' : 'insufficient',
    },
    {
      name: 'non_finite_outputs', evidence: 'off_policy', estimate: f.candidate_non_finite, bound: null, margin: 0, samples: f.shadow_sample_size,
      verdict: f.candidate_non_finite > 0 ? 'fail' : 'pass',
    },
  ];
  const cv = f.candidate_violation_rate, pv = f.production_violation_rate;
  screens.push({
    name: 'proposed_violation_rate', evidence: 'off_policy', estimate: cv === null ? null : r4((pv ?? 0) - cv), bound: null, margin: cfg.violation_tolerance,
    samples: f.shadow_sample_size, verdict: cv === null ? 'insufficient' : cv > (pv ?? 0) + cfg.violation_tolerance ? 'fail' : 'pass',
    note: cv === null ? undefined : `candidate proposes a forbidden intent in ${r4(cv)} of shadow cycles, production in ${r4(pv ?? 0)}`,
  });
  const c = f.canary, i = f.incumbent;
  const onPolicy: Criterion[] = [
    rateCriterion('survival', c.death, i.death, cfg.margin_survival),
    rateCriterion('violation_rate', c.violation, i.violation, cfg.margin_violation),
    c.reward.n === 0 || i.reward.n === 0 || c.reward.mean === null || i.reward.mean === null
      ? { name: 'reward', evidence: 'on_policy', estimate: null, bound: null, margin: cfg.margin_reward, samples: 0, verdict: 'insufficient' }
      : judge('reward', c.reward.mean - i.reward.mean, c.reward.lower - i.reward.upper, c.reward.upper - i.reward.lower, cfg.margin_reward, Math.min(c.reward.n, i.reward.n)),
  ];
  const op = f.off_policy;
  const offLower = op.lower === null || i.reward.n === 0 ? null : op.lower - i.reward.upper;
  const essOk = op.ess >= cfg.off_policy_min_ess;
  const off: Criterion = {
    name: 'reward_off_policy', evidence: 'off_policy',
    estimate: op.estimate === null || i.reward.mean === null ? null : r4(op.estimate - i.reward.mean),
    bound: r4(offLower), margin: cfg.margin_reward, samples: op.samples,
    verdict: offLower !== null && essOk && offLower > -cfg.margin_reward ? 'pass' : 'insufficient',
    note: `one-step reward only (blind to harm that comes after the step); effective sample size ${Math.round(op.ess)} (floor ${cfg.off_policy_min_ess})`,
  };
  const criteria = [...screens, ...onPolicy, off];
  const say = (pass: boolean, evidence: EvidenceKind | null, reason: string, missing: string | null): GateVerdict => ({ pass, evidence, criteria, reason, missing, alpha: a });

  const badScreen = screens.find((s) => s.verdict === 'fail');
  if (badScreen) {
    return say(false, null, badScreen.name === 'non_finite_outputs'
      ? `the candidate produced ${f.candidate_non_finite} non-finite output(s)`
      : `the candidate's proposed-violation rate ${r4(cv)} is above production's ${r4(pv ?? 0)} (tolerance ${cfg.violation_tolerance})`, null);
  }
  const failed = onPolicy.filter((x) => x.verdict === 'fail');
  if (failed.length > 0) {
    return say(false, null, `on-policy evidence: the canary arm is credibly worse than production by more than the margin on ${failed.map((x) => `${x.name} (upper bound of its advantage ${x.bound} < −${x.margin})`).join(', ')}`, null);
  }
  if (f.shadow_sample_size < cfg.min_shadow_cycles) {
    return say(false, null, `shadow_sample_size ${f.shadow_sample_size} < min_shadow_cycles ${cfg.min_shadow_cycles}`,
      `${cfg.min_shadow_cycles - f.shadow_sample_size} more shadow cycles (cycles must be flowing: the candidate is judged on live traffic)`);
  }
  if (onPolicy.every((x) => x.verdict === 'pass')) {
    return say(true, 'on_policy', `on-policy evidence: the canary arm (${c.outcomes} outcomes, ${c.agents} agents) is not worse than production by more than the margins on survival, violations and reward`, null);
  }
  if (cfg.off_policy_may_pass && off.verdict === 'pass') {
    return say(true, 'off_policy', `off-policy evidence: the candidate's one-step reward is not worse than production's by more than ${cfg.margin_reward} (lower bound ${off.bound}, effective sample size ${Math.round(op.ess)}); it cannot see delayed harm — the post-promotion watch guards that`, null);
  }
  // Not enough evidence: say what is missing and about how much.
  const notes: string[] = [];
  const pending = onPolicy.filter((x) => x.verdict === 'insufficient');
  let most = 0, hopeless: string[] = [];
  for (const x of pending) {
    const cb = x.name === 'survival' ? c.death : x.name === 'violation_rate' ? c.violation : c.reward;
    const ib = x.name === 'survival' ? i.death : x.name === 'violation_rate' ? i.violation : i.reward;
    const more = moreCanaryOutcomes(cb, ib, x.estimate ?? 0, x.margin, f.canary_ratio, a / 2);
    if (more === null) hopeless.push(x.name); else most = Math.max(most, more);
  }
  if (f.canary_ratio > 0 && c.outcomes < 30) {
    // Too few canary outcomes to project from: the first few hundred show how far the candidate is from production.
    notes.push(`the canary has ${c.outcomes} outcome(s) so far: ask again after a few hundred (about ${Math.ceil(300 / f.canary_ratio)} cycles at the current ratio ${f.canary_ratio})`);
  } else if (f.canary_ratio > 0 && c.death.inflation === Infinity) {
    // One agent is no evidence about a policy (its own luck cannot be told from the candidate's): arms.ts.
    notes.push(`the canary arm holds ${c.agents} agent(s): its evidence needs at least 2 agents, and more to be tight (raise the ratio)`);
  } else if (hopeless.length > 0 && c.outcomes > 0) {
    notes.push(`the canary arm looks worse than production by more than the margin on ${hopeless.join(', ')}: more evidence is unlikely to pass it`);
  } else if (f.canary_ratio <= 0) {
    // Without canary outcomes there is nothing to project from: how far the
    // candidate is from production shows in its first few hundred.
    notes.push(c.outcomes >= 30
      ? `no canary is running: set one again (SET_CANARY_RATIO, e.g. {"ratio": 0.05}); the canary arm needs about ${most} more outcomes (about ${Math.ceil(most / 0.05)} cycles at ratio 0.05)`
      : `no canary is running: set one (SET_CANARY_RATIO, e.g. {"ratio": 0.05}) and ask again after a few hundred canary outcomes (about ${Math.ceil(300 / 0.05)} cycles at ratio 0.05)`);
  } else {
    notes.push(`run the canary longer: about ${most} more canary outcomes (about ${Math.ceil(most / f.canary_ratio)} cycles at the current ratio ${f.canary_ratio})`);
  }
  if (cfg.off_policy_may_pass && off.verdict !== 'pass' && op.samples > 0) {
    const moreShadow = off.bound === null ? null : moreShadowCycles(op, i.reward.upper, cfg.margin_reward, cfg.off_policy_min_ess);
    if (off.bound === null) {
      notes.push('off-policy alone: no bound yet (it is read against the incumbent arm\'s reward, which has no outcomes)');
    } else if (moreShadow === null) {
      notes.push(`off-policy evidence cannot carry this candidate: its lower bound ${off.bound} (effective sample size ${Math.round(op.ess)}) would still be below −${cfg.margin_reward} ${essOk ? 'even with four times the shadow cycles' : `even at four times the shadow cycles the floor of ${cfg.off_policy_min_ess} needs`}; it is wide unless the candidate nearly always agrees with production: a canary is needed`);
    } else if (!essOk) {
      notes.push(`off-policy alone: effective sample size ${Math.round(op.ess)} < ${cfg.off_policy_min_ess} (about ${moreShadow} more shadow cycles at the current overlap, if its lower bound ${off.bound} narrows as projected)`);
    } else {
      notes.push(`off-policy alone: lower bound ${off.bound} does not clear −${cfg.margin_reward} yet (about ${moreShadow} more shadow cycles, if it narrows as projected)`);
    }
  }
  const pendingNames = pending.map((x) => x.name).join(', ');
  return say(false, null, `not enough evidence yet: ${pendingNames ? `on-policy ${pendingNames} not bounded within the margin` : 'on-policy evidence incomplete'}`, notes.join('; '));
}

/** Post-promotion watch: the new production (its arm) against the holdback arm on the previous production. */
export interface WatchVerdict {
  rollback: boolean;
  criteria: Criterion[];
  reason: string;
}

export function evaluateWatch(production: ArmBounds, holdback: ArmBounds, cfg: GateConfig): WatchVerdict {
  const criteria: Criterion[] = [
    rateCriterion('survival', production.death, holdback.death, cfg.margin_survival),
    rateCriterion('violation_rate', production.violation, holdback.violation, cfg.margin_violation),
    production.reward.mean === null || holdback.reward.mean === null
      ? { name: 'reward', evidence: 'on_policy', estimate: null, bound: null, margin: cfg.margin_reward, samples: 0, verdict: 'insufficient' }
      : judge('reward', production.reward.mean - holdback.reward.mean, production.reward.lower - holdback.reward.upper, production.reward.upper - holdback.reward.lower, cfg.margin_reward, Math.min(production.reward.n, holdback.reward.n)),
  ];
  const failed = criteria.filter((x) => x.verdict === 'fail');
  return {
    rollback: failed.length > 0, criteria,
    reason: failed.length > 0
      ? `the new production is credibly worse than the holdback arm by more than the margin on ${failed.map((x) => `${x.name} (estimate ${x.estimate}, upper bound ${x.bound} < −${x.margin})`).join(', ')} (${production.outcomes} vs ${holdback.outcomes} outcomes)`
      : 'no criterion is credibly worse',
  };
}
