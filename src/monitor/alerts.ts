// Alerts over the window metrics: levels, the failure types they raise, and
// a recommended mitigation an operator can act on. Pure.
import type { WindowSnapshot, ArmRates } from './metrics.js';
import { ARM_CANARY, ARM_INCUMBENT, type ArmBounds } from '../engine/arms.js';
import type { Bound } from '../engine/confseq.js';

export interface AlertConfig {
  /**
   * Outcomes (or cycles) in the window before rates are judged. Half the
   * default window: a rate over a hundred outcomes swings by a few points by
   * chance (a 6% violation rate reads over 10% about one time in twenty),
   * and a CRITICAL alert changes the failure mode.
   */
  min_samples: number;
  survival_warning: number;
  survival_critical: number;
  violation_warning: number;
  violation_critical: number;
  p99_budget_us: number;
  confidence_collapse: number;
  intent_dominance: number;
  shadow_divergence: number;
  /**
   * Canary auto-abort: minimum outcomes in each arm, the rule, its error,
   * and the one-sided z of the 'window' rule. 'sequence' (the default): a
   * sequential test (msprt below) on the arms' outcomes since the canary
   * began, valid however often it is checked; 'window': a one-sided
   * two-proportion z-test on the arms' last outcomes, which, checked every
   * 200 ms, aborts an equally good canary far more often than its z suggests
   * (npm run experiment:gate measures both).
   */
  canary_min_samples: number;
  canary_rule: 'sequence' | 'window';
  canary_alpha: number;
  canary_z: number;
}

export const DEFAULT_ALERTS: AlertConfig = {
  min_samples: 500, survival_warning: 0.9, survival_critical: 0.5, violation_warning: 0.01, violation_critical: 0.1,
  p99_budget_us: 50_000, confidence_collapse: 0.2, intent_dominance: 0.9, shadow_divergence: 0.8,
  canary_min_samples: 50, canary_rule: 'sequence', canary_alpha: 0.01, canary_z: 2.33,
};

export type Level = 'WARNING' | 'CRITICAL';

export interface Alert {
  type: string;
  level: Level;
  message: string;
  value: number;
  threshold: number;
  /** The failure type of the failure taxonomy (docs/ARCHITECTURE.md) this alert raises, if any. */
  failure?: 'SURVIVAL_CRASH' | 'CONTRACT_BREACH';
}

const MITIGATION: Record<string, string> = {
  SURVIVAL_CRASH: 'SAFE_MODE is on (rules decide). Roll back (ROLLBACK_MODEL) if a promotion preceded it, set the canary ratio to 0, then RESET_FAILURE_STATUS.',
  LOW_SURVIVAL: 'Survival is below the daily-checklist bar; compare the served policy with the previous production and consider ROLLBACK_MODEL.',
  CONTRACT_BREACH: 'SAFE_MODE is on. Check which intents violate (intent_distribution, quarantine), tighten the safety rules, then RESET_FAILURE_STATUS.',
  VIOLATIONS: 'Violations are above the daily-checklist bar; review the safety rules for the states in which they happen.',
  LATENCY_BUDGET: 'p99 is over the budget: check the load (cycles/s), the pool (timeouts, crashes) and the host; shed load upstream.',
  CONFIDENCE_COLLAPSE: 'The model is unsure of most decisions: raise min_confidence to let the rules decide, or roll back.',
  INTENT_DOMINANCE: 'One intent dominates the decisions: check the model and the state inputs (a stuck sensor sends one state).',
  SHADOW_DIVERGENCE: 'The candidate disagrees with most served decisions: do not promote before its value estimate explains why.',
};

export function evaluateAlerts(w: WindowSnapshot, c: AlertConfig): { status: 'OK' | 'WARNING' | 'CRITICAL' | 'INITIALIZING'; alerts: Alert[]; recommended_mitigation: string | null } {
  const alerts: Alert[] = [];
  if (w.outcomes >= c.min_samples && w.survival_rate !== null) {
    if (w.survival_rate < c.survival_critical) alerts.push({ type: 'SURVIVAL_CRASH', level: 'CRITICAL', failure: 'SURVIVAL_CRASH', value: w.survival_rate, threshold: c.survival_critical, message: `survival ${w.survival_rate.toFixed(3)} < ${c.survival_critical}` });
    else if (w.survival_rate < c.survival_warning) alerts.push({ type: 'LOW_SURVIVAL', level: 'WARNING', value: w.survival_rate, threshold: c.survival_warning, message: `survival ${w.survival_rate.toFixed(3)} < ${c.survival_warning}` });
  }
  if (w.outcomes >= c.min_samples && w.violation_rate !== null) {
    if (w.violation_rate > c.violation_critical) alerts.push({ type: 'CONTRACT_BREACH', level: 'CRITICAL', failure: 'CONTRACT_BREACH', value: w.violation_rate, threshold: c.violation_critical, message: `violation rate ${w.violation_rate.toFixed(4)} > ${c.violation_critical}` });
    else if (w.violation_rate > c.violation_warning) alerts.push({ type: 'VIOLATIONS', level: 'WARNING', value: w.violation_rate, threshold: c.violation_warning, message: `violation rate ${w.violation_rate.toFixed(4)} > ${c.violation_warning}` });
  }
  if (w.cycles >= c.min_samples) {
    if (w.latency_us.p99 > c.p99_budget_us) alerts.push({ type: 'LATENCY_BUDGET', level: 'CRITICAL', value: w.latency_us.p99, threshold: c.p99_budget_us, message: `p99 ${w.latency_us.p99} µs > ${c.p99_budget_us} µs` });
    if (w.mean_model_confidence !== null && w.mean_model_confidence < c.confidence_collapse) alerts.push({ type: 'CONFIDENCE_COLLAPSE', level: 'WARNING', value: w.mean_model_confidence, threshold: c.confidence_collapse, message: `mean model confidence ${w.mean_model_confidence.toFixed(3)} < ${c.confidence_collapse}` });
    const [top, share] = Object.entries(w.intent_distribution).reduce((m, e) => (e[1] > m[1] ? e : m), ['', 0]);
    if (share > c.intent_dominance) alerts.push({ type: 'INTENT_DOMINANCE', level: 'WARNING', value: share, threshold: c.intent_dominance, message: `${top} is ${(share * 100).toFixed(1)}% of decisions` });
  }
  if (w.shadow_samples >= c.min_samples && w.shadow_agreement_rate !== null && 1 - w.shadow_agreement_rate > c.shadow_divergence) {
    alerts.push({ type: 'SHADOW_DIVERGENCE', level: 'WARNING', value: 1 - w.shadow_agreement_rate, threshold: c.shadow_divergence, message: `shadow divergence ${(1 - w.shadow_agreement_rate).toFixed(3)} > ${c.shadow_divergence}` });
  }
  const critical = alerts.find((a) => a.level === 'CRITICAL');
  const status = w.cycles === 0 ? 'INITIALIZING' : critical ? 'CRITICAL' : alerts.length ? 'WARNING' : 'OK';
  return { status, alerts, recommended_mitigation: alerts.length ? MITIGATION[(critical ?? alerts[0]).type] ?? null : null };
}

/** What the canary's automatic abort reads: the arms' windows and their confidence sequences (src/engine/arms.ts). */
export interface ArmEvidence {
  rates(arm: number): ArmRates;
  bounds(arm: number): ArmBounds;
}

export interface CanaryVerdict { worse: boolean; metric?: 'death' | 'violation'; canary_rate?: number; incumbent_rate?: number; z?: number; bound?: number; detail?: string }

/**
 * Canary auto-abort test: is the canary arm's death (or violation) rate
 * higher than the incumbent's? Both arms need `canary_min_samples` outcomes.
 * 'sequence': the mixture sequential probability ratio test below rejects
 * equal rates at `canary_alpha` (a false abort of an equally good canary has
 * probability at most about alpha per metric over the whole canary, however
 * often this is checked). 'window': one-sided two-proportion z-test with a
 * pooled variance on the arms' windows, above `canary_z`.
 */
export function canaryWorse(arms: ArmEvidence, c: AlertConfig): CanaryVerdict {
  const canary = arms.rates(ARM_CANARY), incumbent = arms.rates(ARM_INCUMBENT);
  if (canary.n < c.canary_min_samples || incumbent.n < c.canary_min_samples) return { worse: false };
  if (c.canary_rule === 'sequence') {
    const cb = arms.bounds(ARM_CANARY), ib = arms.bounds(ARM_INCUMBENT);
    for (const metric of ['death', 'violation'] as const) {
      const t = msprt(cb[metric], ib[metric], c.canary_alpha);
      if (t !== null && t.reject) {
        return {
          worse: true, metric, canary_rate: t.canary, incumbent_rate: t.incumbent, z: t.z,
          detail: `canary arm ${metric} rate ${t.canary.toFixed(4)} vs incumbent arm ${t.incumbent.toFixed(4)} over ${cb[metric].n} and ${ib[metric].n} outcomes since the canary started: credibly higher (sequential test: likelihood ratio ${t.ratio.toExponential(1)} ≥ 1/${c.canary_alpha}, z ${t.z.toFixed(2)})`,
        };
      }
    }
    return { worse: false };
  }
  for (const [metric, x1, x2] of [['death', canary.deaths, incumbent.deaths], ['violation', canary.violations, incumbent.violations]] as const) {
    const p1 = x1 / canary.n, p2 = x2 / incumbent.n, p = (x1 + x2) / (canary.n + incumbent.n);
    const se = Math.sqrt(p * (1 - p) * (1 / canary.n + 1 / incumbent.n));
    if (se === 0) continue;
    const z = (p1 - p2) / se;
    if (z > c.canary_z) {
      return { worse: true, metric, z, canary_rate: p1, incumbent_rate: p2, detail: `canary arm ${metric} rate ${p1.toFixed(4)} vs incumbent arm ${p2.toFixed(4)} over their last ${canary.n} and ${incumbent.n} outcomes (z ${z.toFixed(2)} > ${c.canary_z})` };
    }
  }
  return { worse: false };
}

/**
 * The one-sided mixture sequential probability ratio test of Johari, Pekelis
 * and Walsh ("Always valid inference", Operations Research 2022) for a
 * difference of two rates, on the arms' outcomes since the canary started:
 * θ̂ = canary rate − incumbent rate, its variance s² from the pooled rate
 * (the null hypothesis: equal rates) times each arm's design effect (the
 * widening of arms.ts for outcomes clustered by agent, squared), a normal
 * mixing distribution of scale τ = the pooled rate (a doubling is the effect
 * it is tuned to find), and
 *
 *   Λ = sqrt(s² / (s² + τ²)) · exp(θ̂² τ² / (2 s² (s² + τ²)))
 *
 * Rejected (the canary is worse) when θ̂ > 0 and Λ ≥ 1/α. Under equal rates
 * Λ is a martingale in the normal approximation, so P(ever rejected) ≤ α
 * (approximately: the variance is estimated) however often it is checked;
 * `npm run experiment:gate` measures it. Needs a death (or violation) in either arm.
 */
export function msprt(canary: Bound, incumbent: Bound, alpha: number): { reject: boolean; ratio: number; z: number; canary: number; incumbent: number } | null {
  if (canary.mean === null || incumbent.mean === null || canary.n === 0 || incumbent.n === 0) return null;
  const pooled = (canary.mean * canary.n + incumbent.mean * incumbent.n) / (canary.n + incumbent.n);
  if (!(pooled > 0 && pooled < 1)) return null;
  const fc = canary.inflation ?? 1, fi = incumbent.inflation ?? 1;
  if (!Number.isFinite(fc) || !Number.isFinite(fi)) return null; // one agent in an arm: no evidence about the policy
  const v = pooled * (1 - pooled);
  const s2 = v * ((fc * fc) / canary.n + (fi * fi) / incumbent.n);
  const tau2 = pooled * pooled;
  const theta = canary.mean - incumbent.mean;
  const logRatio = 0.5 * Math.log(s2 / (s2 + tau2)) + (theta * theta * tau2) / (2 * s2 * (s2 + tau2));
  const ratio = Math.exp(Math.min(700, logRatio));
  return { reject: theta > 0 && logRatio >= Math.log(1 / alpha), ratio, z: theta / Math.sqrt(s2), canary: canary.mean, incumbent: incumbent.mean };
}
