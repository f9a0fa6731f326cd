// The promotion gate (PROTOCOL section 6), pure: the shadow figures in, a
// verdict and the failing figures out.
import type { ShadowStats } from '../engine/shadow.js';

export interface GateConfig {
  min_shadow_cycles: number;
  /** "Credibly worse" = the incumbent's value exceeds the candidate's by more than z standard errors of the difference. */
  z: number;
  /** How much higher the candidate's proposed-violation rate may be than the incumbent's (0: not higher at all). */
  violation_tolerance: number;
}

export const DEFAULT_GATE: GateConfig = { min_shadow_cycles: 1000, z: 1.96, violation_tolerance: 0 };

export interface GateFigures {
  shadow_sample_size: number;
  min_shadow_cycles: number;
  candidate_value_estimate: number | null;
  candidate_value_stderr: number | null;
  candidate_value_samples: number;
  /** Effective sample size of the importance weights: how many logged decisions the estimate is really worth. */
  candidate_value_ess: number;
  production_value_estimate: number | null;
  production_value_stderr: number | null;
  production_value_samples: number;
  candidate_violation_rate: number | null;
  production_violation_rate: number | null;
  candidate_non_finite: number;
}

export interface GateVerdict {
  pass: boolean;
  failures: string[];
  figures: GateFigures;
}

export function gateFigures(s: ShadowStats, cfg: GateConfig): GateFigures {
  const c = s.candidateValue(), p = s.incumbentValue();
  return {
    shadow_sample_size: s.samples, min_shadow_cycles: cfg.min_shadow_cycles,
    candidate_value_estimate: c.value, candidate_value_stderr: c.stderr, candidate_value_samples: c.n, candidate_value_ess: Math.round(c.ess * 10) / 10,
    production_value_estimate: p.value, production_value_stderr: p.stderr, production_value_samples: p.n,
    candidate_violation_rate: s.candidateViolationRate, production_violation_rate: s.incumbentViolationRate,
    candidate_non_finite: s.candidateNonFinite,
  };
}

export function evaluateGate(f: GateFigures, cfg: GateConfig): GateVerdict {
  const failures: string[] = [];
  if (f.shadow_sample_size < cfg.min_shadow_cycles) {
    failures.push(`shadow_sample_size ${f.shadow_sample_size} < min_shadow_cycles ${cfg.min_shadow_cycles}`);
  }
  if (f.candidate_value_estimate === null) {
    failures.push('no off-policy evidence yet: no logged outcome of a decision the candidate could have made');
  } else if (f.production_value_estimate !== null) {
    const se = Math.sqrt((f.candidate_value_stderr ?? 0) ** 2 + (f.production_value_stderr ?? 0) ** 2);
    const gap = f.production_value_estimate - f.candidate_value_estimate;
    if (gap > cfg.z * se) {
      failures.push(`candidate value ${f.candidate_value_estimate.toFixed(4)} is credibly below production ${f.production_value_estimate.toFixed(4)} (gap ${gap.toFixed(4)} > ${cfg.z} × ${se.toFixed(4)})`);
    }
  }
  const cv = f.candidate_violation_rate ?? 0, pv = f.production_violation_rate ?? 0;
  if (cv > pv + cfg.violation_tolerance) {
    failures.push(`candidate proposed-violation rate ${cv.toFixed(4)} is above production's ${pv.toFixed(4)}`);
  }
  if (f.candidate_non_finite > 0) failures.push(`candidate produced ${f.candidate_non_finite} non-finite output(s)`);
  return { pass: failures.length === 0, failures, figures: f };
}
